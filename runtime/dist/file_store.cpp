// The file rendezvous store (file:///DIR): one file per key in a directory every
// process can see (local disk, NFS, a shared volume). A value is written to a
// temp file, fsync'ed and renamed, so readers see whole values; set/add/remove
// hold an flock on DIR/.lock, so add is atomic across processes; get and wait
// poll. Deliberately not fast and never cleaned up: one rendezvous, then rm -r.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "dist/store_backends.h"

namespace trainrt::dist {

namespace {

using detail::Clock;

constexpr milliseconds kPollEvery{20};
constexpr size_t kMaxPlainName = 200;

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// "k" + the key with every byte outside [A-Za-z0-9_-] written as %XX, so keys
// with '/' or ".." stay inside the directory and never collide with ".lock" or
// ".tmp.*". Names too long for a file system keep a readable start plus a hash.
std::string file_name_for(const std::string& key) {
  static const char* hex = "0123456789ABCDEF";
  std::string name = "k";
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      name.push_back(static_cast<char>(c));
    } else {
      name += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  if (name.size() <= kMaxPlainName) return name;
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return name.substr(0, 150) + "~" + digest;
}

// Holds an exclusive flock on a lock file for its lifetime.
class DirectoryLock {
 public:
  DirectoryLock(const std::string& path, const std::string& describe) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    TRT_CHECK(fd_ >= 0, "rendezvous store ", describe, ": cannot open the lock file ", path, ": ",
              std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd_);
      fail("rendezvous store " + describe + ": cannot lock " + path + ": " + std::strerror(err) +
           "; the file system must support flock");
    }
  }
  ~DirectoryLock() { ::close(fd_); }  // closing releases the lock
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

class FileStore final : public Store {
 public:
  explicit FileStore(const std::string& directory)
      : directory_(directory), describe_("file://" + directory) {
    std::error_code error;
    std::filesystem::create_directories(directory_, error);
    TRT_CHECK(!error, "rendezvous store ", describe_, ": cannot create the directory: ", error.message(),
              "; choose a writable directory that every process of the job can see");
  }

  void set(const std::string& key, const std::string& value) override {
    DirectoryLock lock(lock_path(), describe_);
    write_atomically(key, value);
  }

  std::string get(const std::string& key, milliseconds timeout) override {
    const Clock::time_point deadline = detail::deadline_after(timeout);
    while (true) {
      if (std::optional<std::string> value = read_if_present(key)) return std::move(*value);
      sleep_or_time_out(deadline, timeout, {key});
    }
  }

  int64_t add(const std::string& key, int64_t delta) override {
    DirectoryLock lock(lock_path(), describe_);
    const std::string value = read_if_present(key).value_or("");
    const std::optional<int64_t> current = detail::parse_counter(value);
    TRT_CHECK(current, "rendezvous store ", describe_, ": ", detail::not_a_counter_message(key, value));
    write_atomically(key, std::to_string(*current + delta));
    return *current + delta;
  }

  bool check(const std::vector<std::string>& keys) override { return missing(keys).empty(); }

  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    const Clock::time_point deadline = detail::deadline_after(timeout);
    while (true) {
      const std::vector<std::string> absent = missing(keys);
      if (absent.empty()) return;
      sleep_or_time_out(deadline, timeout, absent);
    }
  }

  bool remove(const std::string& key) override {
    DirectoryLock lock(lock_path(), describe_);
    if (::unlink(path_of(key).c_str()) == 0) return true;
    TRT_CHECK(errno == ENOENT, "rendezvous store ", describe_, ": cannot delete key '", key, "' (", path_of(key),
              "): ", std::strerror(errno));
    return false;
  }

  std::string describe() const override { return describe_; }

 private:
  std::string path_of(const std::string& key) const { return directory_ + "/" + file_name_for(key); }
  std::string lock_path() const { return directory_ + "/.lock"; }

  void sleep_or_time_out(Clock::time_point deadline, milliseconds timeout, const std::vector<std::string>& absent) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) detail::throw_timeout(describe_, timeout, absent);
    std::this_thread::sleep_until(std::min(now + kPollEvery, deadline));
  }

  std::vector<std::string> missing(const std::vector<std::string>& keys) const {
    std::vector<std::string> absent;
    struct stat info {};
    for (const std::string& key : keys)
      if (::stat(path_of(key).c_str(), &info) != 0) absent.push_back(key);
    return absent;
  }

  std::optional<std::string> read_if_present(const std::string& key) const {
    const std::string path = path_of(key);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      TRT_CHECK(errno == ENOENT, "rendezvous store ", describe_, ": cannot read key '", key, "' (", path,
                "): ", std::strerror(errno));
      return std::nullopt;
    }
    std::string value;
    char buffer[64 * 1024];
    ssize_t got = 0;
    while ((got = ::read(fd, buffer, sizeof buffer)) != 0) {
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        const int err = errno;
        ::close(fd);
        fail("rendezvous store " + describe_ + ": cannot read key '" + key + "' (" + path + "): " +
             std::strerror(err));
      }
      value.append(buffer, static_cast<size_t>(got));
    }
    ::close(fd);
    return value;
  }

  // Temp file in the same directory, fsync, rename: a reader sees the old value
  // or the new one, never half of it.
  void write_atomically(const std::string& key, const std::string& value) {
    static std::atomic<uint64_t> counter{0};
    const std::string path = path_of(key);
    const std::string temp = directory_ + "/.tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    TRT_CHECK(fd >= 0, "rendezvous store ", describe_, ": cannot write key '", key, "' (", temp, "): ",
              std::strerror(errno));
    size_t written = 0;
    int err = 0;
    while (written < value.size() && err == 0) {
      const ssize_t n = ::write(fd, value.data() + written, value.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      else if (n < 0 && errno != EINTR) err = errno;
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) {
      ::unlink(temp.c_str());
      fail("rendezvous store " + describe_ + ": cannot write key '" + key + "' (" + path + "): " + std::strerror(err));
    }
  }

  const std::string directory_;
  const std::string describe_;
};

}  // namespace

namespace detail {

std::shared_ptr<Store> make_file_store(const std::string& directory) {
  return std::make_shared<FileStore>(directory);
}

}  // namespace detail

}  // namespace trainrt::dist
