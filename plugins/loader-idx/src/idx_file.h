// One IDX file (the MNIST family's format) read whole into memory: a big-endian
// header (magic 0x000008<ndim>, then ndim uint32 sizes) followed by uint8 data.
// Plain and gzip files go through one reader that reads the header first and
// then never reads, inflates or allocates more than the header's size plus one
// byte (a small .gz that inflates to gigabytes stops at once). Deliberately
// only the uint8 type (0x08): that is what the MNIST family uses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trt_idx {

// The largest sample the reader accepts (rows x cols bytes), so a header such
// as 0 x 65536 x 65536 cannot announce samples nobody could allocate.
inline constexpr uint64_t kMaxItemBytes = uint64_t(1) << 31;

struct IdxFile {
  std::string path;
  std::vector<int64_t> sizes;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> bytes;  // the whole decompressed file
  size_t data_offset = 0;      // first data byte (after the header)

  int64_t count() const { return sizes.empty() ? 0 : sizes[0]; }
  int64_t item_bytes() const;  // product of sizes[1..] (at most kMaxItemBytes)
  const uint8_t* item(int64_t i) const { return bytes.data() + data_offset + i * item_bytes(); }
};

// Reads and validates `path`, expecting magic 0x00000800 | expected_ndim.
// Throws std::runtime_error with one line "<path>: <what is wrong>" for a
// missing/unreadable file or a folder, corrupt gzip data, a wrong magic number
// (both in hex), a sample size (product of sizes[1..]) of 0 or over
// kMaxItemBytes, or a file shorter or longer than its header says.
IdxFile read_idx(const std::string& path, int expected_ndim, const char* what);

// The same checks on a file's bytes already in memory (plain, or gzip when
// they start with 1f 8b); `name` stands for the path in messages. For fuzzing.
IdxFile parse_idx(const uint8_t* data, size_t size, int expected_ndim, const char* what, const std::string& name);

}  // namespace trt_idx
