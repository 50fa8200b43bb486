// A file that readers see whole, old or new: bytes go to ".NAME.tmp-PID-N" in
// the same directory, which is fsync'ed, renamed over NAME, and the directory
// fsync'ed; a process killed at any point leaves the previous file intact.
// Test hook: TRAINRT_TEST_KILL_IN_SAVE=N makes the process SIGKILL itself at its
// N-th commit, after the temporary is written and synced, before the rename.
#pragma once
#include <cstddef>
#include <string>

namespace trainrt::checkpoint {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates the temporary; throws Error naming path
  ~AtomicFile();                          // removes the temporary unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);  // appends; throws on a short write (disk full)
  void commit();                               // fsync, rename over the target, fsync the directory
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// fsync of a directory, so a rename or unlink in it survives a crash.
void fsync_directory(const std::string& dir);
// The directory part of path ("." when none).
std::string directory_of(const std::string& path);

}  // namespace trainrt::checkpoint
