// The loader-idx plugin through the real dlopen'd module and Dataset::open:
// plain and .gz round trips, and every error path (message + trainrt::Error).
#include <gtest/gtest.h>

#include <thread>

#include "fixtures.h"
#include "test_util.h"
#include "trainrt/data/dataset.h"
#include "trainrt/plugins.h"

namespace trainrt::test {
namespace {

using data::Dataset;

std::string idx_options(const std::string& images, const std::string& labels) {
  return "images=" + images + ";labels=" + labels;
}

void expect_round_trip(const Dataset& ds, int64_t n, int64_t rows, int64_t cols) {
  ASSERT_EQ(ds.size(), n);
  ASSERT_EQ(ds.num_fields(), 2);
  EXPECT_EQ(ds.field(0).dtype, DType::UInt8);
  EXPECT_EQ(ds.field(0).sizes, (Shape{rows, cols}));
  EXPECT_EQ(ds.field(1).dtype, DType::Int64);
  EXPECT_EQ(ds.field(1).sizes, Shape{});
  for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
    std::vector<Tensor> s = ds.get(i);
    std::vector<double> px = s[0].to_vector();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(px[r * cols + c], pixel(i, r, c)) << i << "," << r << "," << c;
    EXPECT_EQ(s[1].item(), i % 10);
  }
}

TEST(IdxLoader, PluginIsRegistered) {
  ASSERT_NE(find_loader("idx"), nullptr) << "loader-idx plugin not loaded from the build tree";
}

TEST(IdxLoader, PlainRoundTrip) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(5, 4, 3));
  write_bytes(dir.file("lbl"), idx_labels(5));
  expect_round_trip(Dataset::open("idx", idx_options(dir.file("img"), dir.file("lbl"))), 5, 4, 3);
}

TEST(IdxLoader, GzipRoundTripAcrossSeveralDeflateBlocks) {
  TempDir dir;
  auto images = idx_images(200, 28, 28);  // 156816 bytes: three stored blocks
  write_bytes(dir.file("img.gz"), gzip_stored(images));
  write_bytes(dir.file("lbl.gz"), gzip_stored(idx_labels(200)));
  expect_round_trip(Dataset::open("idx", idx_options(dir.file("img.gz"), dir.file("lbl.gz"))), 200, 28, 28);
}

TEST(IdxLoader, ImagesOnlyAndLabelsOnly) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(3, 2, 2));
  write_bytes(dir.file("lbl"), idx_labels(7));
  Dataset images = Dataset::open("idx", "images=" + dir.file("img"));
  EXPECT_EQ(images.size(), 3);
  EXPECT_EQ(images.num_fields(), 1);
  EXPECT_EQ(images.field(0).dtype, DType::UInt8);
  Dataset labels = Dataset::open("idx", "labels=" + dir.file("lbl"));
  EXPECT_EQ(labels.size(), 7);
  ASSERT_EQ(labels.num_fields(), 1);
  EXPECT_EQ(labels.get(6)[0].item(), 6);
}

TEST(IdxLoader, ConcurrentReadsMatchSerialReads) {
  TempDir dir;
  write_bytes(dir.file("img.gz"), gzip_stored(idx_images(64, 8, 8)));
  write_bytes(dir.file("lbl.gz"), gzip_stored(idx_labels(64)));
  Dataset ds = Dataset::open("idx", idx_options(dir.file("img.gz"), dir.file("lbl.gz")));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<uint8_t> buf(64);
      int64_t label = -1;
      for (int rep = 0; rep < 50; ++rep)
        for (int64_t i = 0; i < 64; ++i) {
          ds.read(i, 0, buf.data());
          ds.read(i, 1, &label);
          if (buf[9] != pixel(i, 1, 1) || label != i % 10) ++bad[t];
        }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

TEST(IdxLoader, MissingFileNamesTheFile) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels(5));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", idx_options(dir.file("nope-images.gz"), dir.file("lbl"))),
                        dir.file("nope-images.gz") + ": cannot open: No such file or directory");
}

TEST(IdxLoader, TruncatedPlainFileSaysExpectedAndActualBytes) {
  TempDir dir;
  auto images = idx_images(10, 4, 4);  // 16 + 160 bytes
  images.resize(100);
  write_bytes(dir.file("img"), images);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("img")),
                        dir.file("img") + ": truncated IDX file: expected 176 bytes (header says 10x4x4), got 100");
}

TEST(IdxLoader, TruncatedHeader) {
  TempDir dir;
  auto labels = idx_labels(10);
  labels.resize(6);
  write_bytes(dir.file("lbl"), labels);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("lbl")),
                        "truncated IDX file: expected a 8-byte header, got 6 bytes");
}

TEST(IdxLoader, TruncatedContentInsideAValidGzip) {
  TempDir dir;
  auto labels = idx_labels(50);
  labels.resize(30);
  write_bytes(dir.file("lbl.gz"), gzip_stored(labels));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("lbl.gz")),
                        dir.file("lbl.gz") + ": truncated IDX file: expected 58 bytes (header says 50), got 30");
}

TEST(IdxLoader, TruncatedGzipStream) {
  TempDir dir;
  auto gz = gzip_stored(idx_images(20, 10, 10));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("img.gz"), gz);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images=" + dir.file("img.gz")),
                        dir.file("img.gz") + ": truncated gzip file");
}

TEST(IdxLoader, TooLongFile) {
  TempDir dir;
  auto labels = idx_labels(5);
  labels.push_back(0);
  write_bytes(dir.file("lbl"), labels);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("lbl")),
                        "IDX file too long: expected 13 bytes (header says 5), got 14");
}

TEST(IdxLoader, WrongMagicPrintsBothInHex) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels(5));
  write_bytes(dir.file("img"), idx_images(5, 2, 2));
  // Images and labels swapped, as a user might.
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", idx_options(dir.file("lbl"), dir.file("img"))),
                        dir.file("lbl") + ": wrong magic number 0x00000801, expected 0x00000803");
  auto junk = idx_labels(5);
  junk[2] = 0x0D;  // float64 type code
  write_bytes(dir.file("junk"), junk);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("junk")),
                        "wrong magic number 0x00000D01, expected 0x00000801");
}

TEST(IdxLoader, CountMismatchNamesBothCountsAndFiles) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(6, 2, 2));
  write_bytes(dir.file("lbl"), idx_labels(5));
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", idx_options(dir.file("img"), dir.file("lbl"))),
                        "image/label count mismatch: 6 images in " + dir.file("img") + " but 5 labels in " +
                            dir.file("lbl"));
}

TEST(IdxLoader, CorruptGzipData) {
  TempDir dir;
  auto gz = gzip_stored(idx_labels(100));
  gz[20] ^= 0x5A;  // a payload byte: the CRC-32 check fails
  write_bytes(dir.file("crc.gz"), gz);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("crc.gz")),
                        dir.file("crc.gz") + ": corrupt gzip data (incorrect data check)");
  gz = gzip_stored(idx_labels(100));
  gz[10] = 0x07;  // first block header: BTYPE=11, reserved
  write_bytes(dir.file("block.gz"), gz);
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "labels=" + dir.file("block.gz")),
                        dir.file("block.gz") + ": corrupt gzip data (invalid block type)");
}

TEST(IdxLoader, BadOptions) {
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", ""), "idx loader: give images=PATH and/or labels=PATH");
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "image=/x"), "idx loader: unknown option 'image' (known: images, labels)");
  EXPECT_ERROR_CONTAINS(Dataset::open("idx", "images"), "bad option 'images' (expected key=value)");
}

TEST(IdxLoader, UnknownLoaderSaysWhichPluginIsMissing) {
  EXPECT_ERROR_CONTAINS(Dataset::open("parquet", "path=x"),
                        "no data loader 'parquet': is the loader-parquet plugin installed? (trainrt plugins");
}

TEST(IdxLoader, ReadOutOfRangeIsAnErrorThroughTheAbiAndTheDataset) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels(5));
  const trt_loader_def* def = find_loader("idx");
  ASSERT_NE(def, nullptr);
  void* handle = nullptr;
  char error[256] = {0};
  ASSERT_EQ(def->open(("labels=" + dir.file("lbl")).c_str(), &handle, error, sizeof error), TRT_OK) << error;
  int64_t label = -1;
  EXPECT_EQ(def->read(handle, 5, 0, &label, error, sizeof error), TRT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("sample index 5 out of range [0, 5)"), std::string::npos) << error;
  def->close(handle);
  Dataset ds = Dataset::open("idx", "labels=" + dir.file("lbl"));
  EXPECT_ERROR_CONTAINS(ds.get(5), "sample index 5 out of range [0, 5)");
}

TEST(IdxLoader, SubsetMapsIndicesAndChecksRange) {
  TempDir dir;
  write_bytes(dir.file("lbl"), idx_labels(20));
  Dataset ds = Dataset::open("idx", "labels=" + dir.file("lbl"));
  Dataset first = ds.subset(4);
  EXPECT_EQ(first.size(), 4);
  Dataset picked = ds.subset(std::vector<int64_t>{13, 2, 19});
  EXPECT_EQ(picked.get(0)[0].item(), 3);
  EXPECT_EQ(picked.subset(std::vector<int64_t>{2}).get(0)[0].item(), 9);
  EXPECT_ERROR_CONTAINS(ds.subset(21), "subset of 21 samples from a dataset of 20");
  EXPECT_ERROR_CONTAINS(picked.subset(std::vector<int64_t>{3}), "subset index 3 out of range [0, 3)");
}

}  // namespace
}  // namespace trainrt::test
