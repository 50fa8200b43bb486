// Reading and validating one IDX file; see idx_file.h.
#include "idx_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>

namespace trt_idx {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// The whole file, decompressed when it is gzip (gzread passes plain files through).
std::vector<uint8_t> slurp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, expected an IDX file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno ? errno : EIO));
  gzbuffer(f, 1 << 17);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(st.st_size) * (path.size() > 3 && path.ends_with(".gz") ? 2 : 1));
  const size_t chunk = 1 << 20;
  int code = Z_OK;
  for (;;) {
    size_t have = out.size();
    out.resize(have + chunk);
    int n = gzread(f, out.data() + have, static_cast<unsigned>(chunk));
    out.resize(have + static_cast<size_t>(n > 0 ? n : 0));
    if (n <= 0) break;
  }
  std::string msg = gzerror(f, &code);
  if (msg.rfind(path + ": ", 0) == 0) msg.erase(0, path.size() + 2);  // zlib prefixes the path
  gzclose(f);
  // A gzip stream cut short reports Z_BUF_ERROR; bad data, Z_DATA_ERROR.
  if (code == Z_BUF_ERROR) fail(path, "truncated gzip file (" + msg + ")");
  if (code != Z_OK && code != Z_STREAM_END) fail(path, "corrupt gzip data (" + msg + ")");
  return out;
}

}  // namespace

int64_t IdxFile::item_bytes() const {
  int64_t n = 1;
  for (size_t d = 1; d < sizes.size(); ++d) n *= sizes[d];
  return n;
}

IdxFile read_idx(const std::string& path, int expected_ndim, const char* what) {
  IdxFile f;
  f.path = path;
  f.bytes = slurp(path);
  const uint32_t expected_magic = 0x00000800u | static_cast<uint32_t>(expected_ndim);
  if (f.bytes.size() < 4)
    fail(path, "truncated IDX file: expected at least 4 bytes (magic number), got " + std::to_string(f.bytes.size()));
  uint32_t magic = be32(f.bytes.data());
  if (magic != expected_magic)
    fail(path, "wrong magic number " + hex32(magic) + ", expected " + hex32(expected_magic) + " (IDX uint8 " + what +
                   ", " + std::to_string(expected_ndim) + "-D)");
  f.data_offset = 4 + 4 * static_cast<size_t>(expected_ndim);
  if (f.bytes.size() < f.data_offset)
    fail(path, "truncated IDX file: expected a " + std::to_string(f.data_offset) + "-byte header, got " +
                   std::to_string(f.bytes.size()) + " bytes");
  uint64_t total = 1;  // saturates instead of overflowing on a garbage header
  std::string dims;
  for (int d = 0; d < expected_ndim; ++d) {
    uint64_t s = be32(f.bytes.data() + 4 + 4 * d);
    f.sizes.push_back(static_cast<int64_t>(s));
    total = (s != 0 && total > (uint64_t(1) << 62) / s) ? (uint64_t(1) << 62) : total * s;
    if (d) dims += "x";
    dims += std::to_string(s);
  }
  const uint64_t expected = f.data_offset + total;
  if (f.bytes.size() < expected)
    fail(path, "truncated IDX file: expected " + std::to_string(expected) + " bytes (header says " + dims + "), got " +
                   std::to_string(f.bytes.size()));
  if (f.bytes.size() > expected)
    fail(path, "IDX file too long: expected " + std::to_string(expected) + " bytes (header says " + dims + "), got " +
                   std::to_string(f.bytes.size()));
  return f;
}

}  // namespace trt_idx
