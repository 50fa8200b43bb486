// Reading and validating one IDX file; see idx_file.h. The file's bytes come
// from a file descriptor or from memory (RawInput); Content passes them
// through or inflates gzip members with zlib; read_content asks Content for
// the header first and then for at most the header's size plus one byte.
#include "idx_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

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

// The file's raw bytes, in order.
class RawInput {
 public:
  virtual ~RawInput() = default;
  virtual size_t read(uint8_t* dst, size_t n) = 0;  // fewer than n only at the end
  virtual int64_t size() const = 0;                 // total bytes when known, else -1
};

class MemoryInput : public RawInput {
 public:
  MemoryInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t read(uint8_t* dst, size_t n) override {
    n = std::min(n, size_ - pos_);
    if (n) std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
    return n;
  }
  int64_t size() const override { return static_cast<int64_t>(size_); }

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
};

class FileInput : public RawInput {
 public:
  explicit FileInput(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory, expected an IDX file");
    size_ = S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size) : -1;  // a pipe or device: unknown
  }
  ~FileInput() override { ::close(fd_); }
  FileInput(const FileInput&) = delete;
  FileInput& operator=(const FileInput&) = delete;
  size_t read(uint8_t* dst, size_t n) override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, dst + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(path_, std::string("read error: ") + std::strerror(errno));
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }
  int64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = -1;
};

// The file's content: its raw bytes, or the inflated gzip members when it
// starts with the gzip magic 1f 8b (data after the last member is ignored, as
// zlib's gzread does).
class Content {
 public:
  Content(RawInput& in, const std::string& path)
      : in_(in), path_(path), buffer_(in.size() >= 0 ? std::clamp<size_t>(static_cast<size_t>(in.size()), 2, 1 << 18) : 1 << 18) {
    refill();
    gzip_ = avail_ >= 2 && buffer_[0] == 0x1f && buffer_[1] == 0x8b;
    if (gzip_) {
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw std::bad_alloc();
      started_ = true;
    }
  }
  ~Content() {
    if (started_) inflateEnd(&zs_);
  }
  Content(const Content&) = delete;
  Content& operator=(const Content&) = delete;

  bool gzip() const { return gzip_; }
  // Bytes of content when known without reading it (a plain file), else -1.
  int64_t known_size() const { return gzip_ ? -1 : in_.size(); }

  size_t read(uint8_t* dst, size_t n) { return gzip_ ? inflate_into(dst, n) : copy_into(dst, n); }

 private:
  // Moves what is left to the front of the buffer and reads more behind it.
  void refill() {
    std::memmove(buffer_.data(), buffer_.data() + next_, avail_);
    next_ = 0;
    avail_ += in_.read(buffer_.data() + avail_, buffer_.size() - avail_);
  }

  size_t copy_into(uint8_t* dst, size_t n) {
    size_t got = std::min(n, avail_);
    std::memcpy(dst, buffer_.data() + next_, got);
    next_ += got;
    avail_ -= got;
    if (got < n) got += in_.read(dst + got, n - got);
    return got;
  }

  size_t inflate_into(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n && !ended_) {
      if (avail_ == 0) refill();
      zs_.next_in = buffer_.data() + next_;
      zs_.avail_in = static_cast<uInt>(avail_);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(std::min<size_t>(n - got, 1u << 30));
      int ret = inflate(&zs_, Z_NO_FLUSH);
      got = static_cast<size_t>(zs_.next_out - dst);
      next_ = static_cast<size_t>(zs_.next_in - buffer_.data());
      avail_ = zs_.avail_in;
      if (ret == Z_STREAM_END) {
        if (avail_ < 2) refill();
        if (avail_ >= 2 && buffer_[next_] == 0x1f && buffer_[next_ + 1] == 0x8b) inflateReset(&zs_);  // next member
        else ended_ = true;
      } else if (ret == Z_MEM_ERROR) {
        throw std::bad_alloc();
      } else if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR) {
        fail(path_, std::string("corrupt gzip data (") + (zs_.msg ? zs_.msg : "inflate failed") + ")");
      } else if (ret == Z_BUF_ERROR) {  // no progress: it needs input the file does not have
        refill();
        if (avail_ == 0) fail(path_, "truncated gzip file (unexpected end of file)");
      }
    }
    return got;
  }

  RawInput& in_;
  std::string path_;
  std::vector<uint8_t> buffer_;  // raw bytes [next_, next_ + avail_) not consumed yet
  size_t next_ = 0, avail_ = 0;
  bool gzip_ = false, started_ = false, ended_ = false;
  z_stream zs_{};
};

IdxFile read_content(Content& content, const std::string& path, int expected_ndim, const char* what) {
  IdxFile f;
  f.path = path;
  const uint32_t expected_magic = 0x00000800u | static_cast<uint32_t>(expected_ndim);
  f.data_offset = 4 + 4 * static_cast<size_t>(expected_ndim);
  f.bytes.resize(f.data_offset);
  size_t have = content.read(f.bytes.data(), 4);
  if (have < 4) fail(path, "truncated IDX file: expected at least 4 bytes (magic number), got " + std::to_string(have));
  uint32_t magic = be32(f.bytes.data());
  if (magic != expected_magic)
    fail(path, "wrong magic number " + hex32(magic) + ", expected " + hex32(expected_magic) + " (IDX uint8 " + what +
                   ", " + std::to_string(expected_ndim) + "-D)");
  have += content.read(f.bytes.data() + 4, f.data_offset - 4);
  if (have < f.data_offset)
    fail(path, "truncated IDX file: expected a " + std::to_string(f.data_offset) + "-byte header, got " +
                   std::to_string(have) + " bytes");

  // Each size is < 2^32, a sample 1..kMaxItemBytes bytes: the total fits in 64 bits and
  // the count is at most the file's data bytes.
  uint64_t item = 1;
  std::string dims;
  for (int d = 0; d < expected_ndim; ++d) {
    uint64_t s = be32(f.bytes.data() + 4 + 4 * d);
    f.sizes.push_back(static_cast<int64_t>(s));
    if (d) {
      dims += "x";
      item = item > kMaxItemBytes ? item : item * s;
    }
    dims += std::to_string(s);
  }
  // A zero sample size would let any count match the file: 4e9 empty samples in 16 bytes.
  if (item == 0)
    fail(path, "IDX header says " + dims + ": samples of 0 bytes; the header is corrupt");
  if (item > kMaxItemBytes)
    fail(path, "IDX header says " + dims + ": samples of " + std::to_string(item) + " bytes, more than the " +
                   std::to_string(kMaxItemBytes) + " this reader accepts; the header is corrupt");
  const uint64_t expected = f.data_offset + static_cast<uint64_t>(f.sizes[0]) * item;
  auto too_short = [&](uint64_t got) {
    fail(path, "truncated IDX file: expected " + std::to_string(expected) + " bytes (header says " + dims + "), got " +
                   std::to_string(got));
  };
  if (int64_t size = content.known_size(); size >= 0) {  // a plain file: compare before reading it
    if (static_cast<uint64_t>(size) < expected) too_short(static_cast<uint64_t>(size));
    if (static_cast<uint64_t>(size) > expected)
      fail(path, "IDX file too long: expected " + std::to_string(expected) + " bytes (header says " + dims + "), got " +
                     std::to_string(size));
    f.bytes.reserve(static_cast<size_t>(expected));
  }
  // Grows with what actually arrives (at most doubling), so a header that lies costs no memory.
  while (have < expected) {
    const size_t step = std::clamp<size_t>(have, size_t(64) << 10, size_t(4) << 20);
    size_t want = static_cast<size_t>(std::min<uint64_t>(step, expected - have));
    f.bytes.resize(have + want);
    size_t got = content.read(f.bytes.data() + have, want);
    have += got;
    if (got < want) break;
  }
  f.bytes.resize(have);
  if (have < expected) too_short(have);
  uint8_t extra = 0;
  if (content.read(&extra, 1) > 0) {  // also makes zlib check the gzip trailer (CRC, length)
    if (content.gzip())
      fail(path, "IDX file too long: expected " + std::to_string(expected) + " bytes (header says " + dims +
                     "), but it inflates to more; stopped reading there");
    fail(path, "IDX file too long: expected " + std::to_string(expected) + " bytes (header says " + dims +
                   "), got more");
  }
  return f;
}

}  // namespace

int64_t IdxFile::item_bytes() const {
  int64_t n = 1;
  for (size_t d = 1; d < sizes.size(); ++d) n *= sizes[d];
  return n;
}

IdxFile read_idx(const std::string& path, int expected_ndim, const char* what) {
  FileInput input(path);
  Content content(input, path);
  return read_content(content, path, expected_ndim, what);
}

IdxFile parse_idx(const uint8_t* data, size_t size, int expected_ndim, const char* what, const std::string& name) {
  MemoryInput input(data, size);
  Content content(input, name);
  return read_content(content, name, expected_ndim, what);
}

}  // namespace trt_idx
