// The watch every rank keeps beside its collectives, through the store:
//   - progress/<rank>: the last sequence number this rank issued, published
//     once per heartbeat when it changed, so a rank that times out can name
//     the ranks that never reached the operation;
//   - failure: the first failure any rank reported; every other rank reads it
//     within a heartbeat, aborts its group, and (in a real run) leaves the
//     process if it has not stopped on its own within kExitGrace, so a rank
//     stuck outside any collective does not hang the job forever.
// Deliberately not here: the collectives themselves (process_group.cpp).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "trainrt/dist/store.h"

namespace trainrt::dist {

class Monitor {
 public:
  static constexpr std::chrono::seconds kExitGrace{10};
  using FailureHandler = std::function<void(const std::string& reason)>;

  // on_remote_failure runs on the monitor thread, once, with another rank's report.
  Monitor(std::shared_ptr<Store> store, int rank, int world_size, std::chrono::milliseconds heartbeat,
          FailureHandler on_remote_failure);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void issued(int64_t seq) { issued_.store(seq); }
  // The ranks whose last issued sequence number is below seq, after this rank
  // published its own and the others had a heartbeat to publish theirs.
  std::vector<int> ranks_behind(int64_t seq);
  // Publishes this rank's failure for the others (the first report wins).
  void report_failure(const std::string& reason);
  // After a remote failure, leave the process if it is still running kExitGrace later.
  void set_exit_on_remote_failure(bool exit) { exit_on_remote_failure_ = exit; }

 private:
  void run();
  void publish_progress();
  bool check_remote_failure();

  std::shared_ptr<Store> store_;
  int rank_, world_size_;
  std::chrono::milliseconds heartbeat_;
  FailureHandler on_remote_failure_;
  std::atomic<int64_t> issued_{0};
  int64_t published_ = -1;
  std::atomic<bool> reported_{false};
  std::atomic<bool> exit_on_remote_failure_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace trainrt::dist
