// Reading safetensors files (see trainrt/checkpoint/safetensors.h): the 8-byte
// length checked against the file and kMaxHeaderBytes before the header is
// read, the header validated, then tensors allocated and filled with pread.
// The same steps run on bytes in memory for the fuzz target.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>

#include "trainrt/checkpoint/safetensors.h"
#include "trainrt/error.h"

namespace trainrt::checkpoint {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps here");

std::string errno_text() { return std::strerror(errno); }

// The header length from the first 8 bytes, checked against the file's size.
uint64_t header_length(const std::string& where, const unsigned char* first8, uint64_t file_size) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | first8[i];
  if (n > file_size - 8)
    throw Error(where + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(file_size) + " bytes): truncated, or not a safetensors file");
  if (n > kMaxHeaderBytes)
    throw Error(where + ": header length " + std::to_string(n) + " is over the " + std::to_string(kMaxHeaderBytes) +
                "-byte limit: not a safetensors file");
  return n;
}

void check_size(const std::string& where, uint64_t file_size) {
  if (file_size < 8)
    throw Error(where + ": " + std::to_string(file_size) +
                " bytes: too short for a safetensors file (8-byte header length, JSON header, data); truncated?");
}

// Tensors for a validated header; read(offset in data section, bytes, dst) fills each.
std::vector<std::pair<std::string, Tensor>> load_tensors(
    const std::string& where, const Header& h, const std::function<void(uint64_t, uint64_t, void*)>& read) {
  for (const TensorRecord& r : h.tensors) {
    if (!dtype_from_safetensors(r.dtype))
      throw Error(where + ": tensor '" + r.name + "' has dtype " + r.dtype +
                  ", which trainrt cannot hold (it reads F32, F64, I64, U8, BOOL, F16, BF16)");
    if (r.shape.size() > TRT_MAX_DIMS)
      throw Error(where + ": tensor '" + r.name + "' has " + std::to_string(r.shape.size()) + " dims; trainrt tensors have at most " +
                  std::to_string(TRT_MAX_DIMS));
  }
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(h.tensors.size());
  for (const TensorRecord& r : h.tensors) {
    Tensor t = Tensor::empty(r.shape, *dtype_from_safetensors(r.dtype));
    if (r.end > r.begin) read(r.begin, r.end - r.begin, t.data_ptr());
    out.emplace_back(r.name, std::move(t));
  }
  return out;
}

// An open file descriptor closed on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void pread_all(const std::string& where, int fd, void* dst, uint64_t bytes, uint64_t offset) {
  char* p = static_cast<char*>(dst);
  while (bytes > 0) {
    ssize_t n = ::pread(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(where + ": read failed: " + errno_text());
    if (n == 0) throw Error(where + ": the file ended early (it shrank while being read?)");
    p += n;
    bytes -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

// Opens path and reads its validated header; leaves the descriptor open in fd.
Header open_and_read_header(const std::string& path, Fd& fd) {
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) throw Error(path + ": cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) throw Error(path + ": cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  check_size(path, size);
  unsigned char first8[8];
  pread_all(path, fd.fd, first8, 8, 0);
  uint64_t n = header_length(path, first8, size);
  std::string text(n, '\0');
  pread_all(path, fd.fd, text.data(), n, 8);
  return parse_header(path, text, size - 8 - n);
}

}  // namespace

Header read_header(const std::string& path) {
  Fd fd{-1};
  return open_and_read_header(path, fd);
}

File read_file(const std::string& path) {
  Fd fd{-1};
  File f;
  f.header = open_and_read_header(path, fd);
  uint64_t base = f.header.data_offset();
  f.tensors = load_tensors(path, f.header, [&](uint64_t offset, uint64_t bytes, void* dst) {
    pread_all(path, fd.fd, dst, bytes, base + offset);
  });
  return f;
}

File read_bytes(const std::string& where, std::string_view bytes) {
  check_size(where, bytes.size());
  uint64_t n = header_length(where, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  File f;
  f.header = parse_header(where, bytes.substr(8, n), bytes.size() - 8 - n);
  const char* data = bytes.data() + 8 + n;
  f.tensors = load_tensors(where, f.header,
                           [&](uint64_t offset, uint64_t size, void* dst) { std::memcpy(dst, data + offset, size); });
  return f;
}

}  // namespace trainrt::checkpoint
