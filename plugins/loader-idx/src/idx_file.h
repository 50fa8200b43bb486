// One IDX file (the MNIST family's format) read whole into memory: a big-endian
// header (magic 0x000008<ndim>, then ndim uint32 sizes) followed by uint8 data.
// Plain and gzip files both go through zlib's gzread, decompressed once.
// Deliberately only the uint8 type (0x08): that is what the MNIST family uses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trt_idx {

struct IdxFile {
  std::string path;
  std::vector<int64_t> sizes;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> bytes;  // the whole decompressed file
  size_t data_offset = 0;      // first data byte (after the header)

  int64_t count() const { return sizes.empty() ? 0 : sizes[0]; }
  int64_t item_bytes() const;  // product of sizes[1..]
  const uint8_t* item(int64_t i) const { return bytes.data() + data_offset + i * item_bytes(); }
};

// Reads and validates `path`, expecting magic 0x00000800 | expected_ndim.
// Throws std::runtime_error with one line "<path>: <what is wrong>" for a
// missing/unreadable file, corrupt gzip data, a wrong magic number (both in
// hex), or a file shorter or longer than its header says.
IdxFile read_idx(const std::string& path, int expected_ndim, const char* what);

}  // namespace trt_idx
