// loader-idx against files whose header and size disagree: a small .gz that
// inflates far past its header's size, a plain file far longer than its
// header says, and headers whose sizes overflow. The reader must stop at the
// header's size (peak memory checked with getrusage) with one line.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

#include "fixtures.h"
#include "gzip_bomb.h"
#include "test_util.h"
#include "trainrt/data/dataset.h"

namespace trainrt::test {
namespace {

using data::Dataset;

int64_t peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;  // ru_maxrss is in KiB on Linux
}

std::vector<uint8_t> header(uint32_t magic, std::vector<uint32_t> sizes) {
  std::vector<uint8_t> out;
  put_be32(out, magic);
  for (uint32_t s : sizes) put_be32(out, s);
  return out;
}

TEST(IdxBounds, GzipThatInflatesPastItsHeaderStopsAtOnce) {
  TempDir dir;
  // A 1x1x1 image file whose gzip stream holds 256 MiB of zeros after the header.
  std::vector<uint8_t> gz = gzip_bomb(idx_images(1, 1, 1), uint64_t(256) << 20);
  ASSERT_LT(gz.size(), 2u << 20) << "the bomb should be small";
  write_bytes(dir.file("img.gz"), gz);
  const int64_t before = peak_rss_mb();
  auto start = std::chrono::steady_clock::now();
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("img.gz")),
                        dir.file("img.gz") + ": IDX file too long: expected 17 bytes (header says 1x1x1), but it "
                                             "inflates to more; stopped reading there");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(peak_rss_mb() - before, 32) << "the reader inflated far past the header's 17 bytes";
  EXPECT_LT(seconds, 1.0);
}

TEST(IdxBounds, GzipWithAValidHeaderAndMoreDataStopsAfterTheHeaderSize) {
  TempDir dir;
  // Labels for 1000 samples, then 200 MiB more: the reader keeps at most 1008 bytes + a chunk.
  std::vector<uint8_t> gz = gzip_bomb(idx_labels(1000), uint64_t(200) << 20);
  write_bytes(dir.file("lbl.gz"), gz);
  const int64_t before = peak_rss_mb();
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("lbl.gz")),
                        "IDX file too long: expected 1008 bytes (header says 1000), but it inflates to more");
  EXPECT_LT(peak_rss_mb() - before, 32);
}

TEST(IdxBounds, PlainFileFarLongerThanItsHeaderIsRefusedBeforeReading) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels(5));
  ASSERT_EQ(truncate(dir.file("lbl").c_str(), off_t(512) << 20), 0);  // sparse: 512 MiB of zeros on no disk
  const int64_t before = peak_rss_mb();
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("lbl")),
                        "IDX file too long: expected 13 bytes (header says 5), got 536870912");
  EXPECT_LT(peak_rss_mb() - before, 32) << "the reader read the whole file before comparing sizes";
}

TEST(IdxBounds, SampleSizeThatCannotBeAllocatedIsRefused) {
  TempDir dir;
  // Zero images of 65536 x 65536: no data, but samples of 4 GiB each.
  write_bytes(dir.file("img"), header(0x803, {0, 65536, 65536}));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("img")),
                        dir.file("img") + ": IDX header says 0x65536x65536: samples of 4294967296 bytes, more than the "
                                          "2147483648 this reader accepts; the header is corrupt");
  // Samples of 0 bytes: 4 billion of them would match a 16-byte file.
  write_bytes(dir.file("empty"), header(0x803, {0xFFFFFFFFu, 0, 28}));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("empty")),
                        dir.file("empty") + ": IDX header says 4294967295x0x28: samples of 0 bytes; the header is corrupt");
  // Sizes whose full product needs more than 64 bits.
  write_bytes(dir.file("big"), header(0x803, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("big")),
                        "IDX header says 4294967295x4294967295x4294967295: samples of ");
}

TEST(IdxBounds, HugeHeaderOverATinyGzipIsTruncatedWithoutAllocatingIt) {
  TempDir dir;
  // Claims 4294967295 x 32768 x 65536 (2^31-byte samples, ~9 EB) in a 60-byte file.
  write_bytes(dir.file("img.gz"), gzip_stored(header(0x803, {0xFFFFFFFFu, 32768, 65536})));
  const int64_t before = peak_rss_mb();
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("img.gz")),
                        "truncated IDX file: expected 9223372034707292176 bytes (header says 4294967295x32768x65536), "
                        "got 16");
  EXPECT_LT(peak_rss_mb() - before, 32);
}

TEST(IdxBounds, FolderGivenAsTheFileIsNamed) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("")), "is a directory, expected an IDX file");
}

TEST(IdxBounds, ConcatenatedGzipMembersAndTrailingBytesReadLikeGzread) {
  TempDir dir;
  std::vector<uint8_t> labels = idx_labels(40);
  std::vector<uint8_t> first(labels.begin(), labels.begin() + 20), second(labels.begin() + 20, labels.end());
  std::vector<uint8_t> gz = gzip_stored(first), tail = gzip_stored(second);
  gz.insert(gz.end(), tail.begin(), tail.end());
  gz.push_back(0);  // trailing garbage after the last member is ignored, as gzread does
  write_bytes(dir.file("lbl.gz"), gz);
  Dataset ds = Dataset::open("idx", "labels=" + dir.file("lbl.gz"));
  ASSERT_EQ(ds.size(), 40);
  EXPECT_EQ(ds.get(39)[0].item(), 9);
}

}  // namespace
}  // namespace trainrt::test
