// Temporary file + fsync + rename + directory fsync; see trainrt/checkpoint/atomic_file.h.
#include "trainrt/checkpoint/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "trainrt/error.h"

namespace trainrt::checkpoint {
namespace {

std::atomic<int> g_temp_counter{0};
std::atomic<int> g_commits{0};

std::string errno_text() { return std::strerror(errno); }

// TRAINRT_TEST_KILL_IN_SAVE=N: die at the N-th commit of this process, between write and rename.
void maybe_kill_for_test() {
  const char* hook = std::getenv("TRAINRT_TEST_KILL_IN_SAVE");
  if (!hook || !*hook) return;
  int commit = ++g_commits;
  if (commit == std::atoi(hook)) std::raise(SIGKILL);
}

}  // namespace

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TRT_CHECK(fd >= 0, dir, ": cannot open the directory to sync it: ", errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  TRT_CHECK(rc == 0 || errno == EINVAL, dir, ": fsync of the directory failed: ", errno_text());
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  TRT_CHECK(!path_.empty() && path_.back() != '/', "checkpoint: '", path_, "' is not a file name");
  size_t slash = path_.rfind('/');
  std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  temp_ = directory_of(path_) + "/." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
          std::to_string(g_temp_counter++);
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TRT_CHECK(fd_ >= 0, path_, ": cannot create ", temp_, ": ", errno_text(), " (does the directory exist and is it writable?)");
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    TRT_CHECK(n > 0, path_, ": write failed: ", n < 0 ? errno_text() : std::string("no progress"),
              " (disk full?); the previous file is unchanged");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  TRT_CHECK(!committed_, path_, ": committed twice");
  TRT_CHECK(::fsync(fd_) == 0, path_, ": fsync failed: ", errno_text(), "; the previous file is unchanged");
  int rc = ::close(fd_);
  fd_ = -1;
  TRT_CHECK(rc == 0, path_, ": close failed: ", errno_text(), "; the previous file is unchanged");
  maybe_kill_for_test();
  TRT_CHECK(::rename(temp_.c_str(), path_.c_str()) == 0, path_, ": rename from ", temp_, " failed: ", errno_text());
  committed_ = true;
  fsync_directory(directory_of(path_));
}

}  // namespace trainrt::checkpoint
