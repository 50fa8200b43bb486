// Test fixtures for the data tests, generated on the fly into a temp folder:
// IDX image/label files (plain and gzip) and CSV files. The gzip writer emits
// "stored" deflate blocks with a real CRC-32, so the tests need no zlib of
// their own and still go through the plugin's gzread path.
// Deliberately no committed binaries.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace trainrt::test {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("trainrt-data-" + std::to_string(::getpid()) + "-" +
                                         (info ? std::string(info->test_suite_name()) + "." + info->name() : "x"));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

// IDX images: magic 0x00000803, n x rows x cols; pixel (i, r, c) = (7i + 3r + c) % 256.
inline std::vector<uint8_t> idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> out;
  put_be32(out, 0x00000803);
  put_be32(out, n);
  put_be32(out, rows);
  put_be32(out, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) out.push_back(static_cast<uint8_t>((7 * i + 3 * r + c) % 256));
  return out;
}
inline uint8_t pixel(int64_t i, int64_t r, int64_t c) { return static_cast<uint8_t>((7 * i + 3 * r + c) % 256); }

// IDX labels: magic 0x00000801, n; label i = i % 10.
inline std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> out;
  put_be32(out, 0x00000801);
  put_be32(out, n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(i % 10));
  return out;
}

inline uint32_t crc32(const std::vector<uint8_t>& data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// A valid gzip member holding `data` in stored (uncompressed) deflate blocks.
inline std::vector<uint8_t> gzip_stored(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};  // header: deflate, no flags, OS unix
  size_t pos = 0;
  do {
    size_t len = std::min<size_t>(65535, data.size() - pos);
    bool final = pos + len == data.size();
    out.push_back(final ? 1 : 0);  // BFINAL, BTYPE=00 (stored)
    out.push_back(len & 0xFF);
    out.push_back(len >> 8);
    out.push_back(~len & 0xFF);
    out.push_back((~len >> 8) & 0xFF);
    out.insert(out.end(), data.begin() + pos, data.begin() + pos + len);
    pos += len;
  } while (pos < data.size());
  uint32_t crc = crc32(data), size = static_cast<uint32_t>(data.size());
  for (int s = 0; s < 32; s += 8) out.push_back(static_cast<uint8_t>(crc >> s));
  for (int s = 0; s < 32; s += 8) out.push_back(static_cast<uint8_t>(size >> s));
  return out;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

}  // namespace trainrt::test
