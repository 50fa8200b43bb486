// Progress publication, failure reports and the exit of a rank left behind
// (see monitor.h). Store errors here are logged at debug level and ignored:
// the store may already be gone while a job shuts down.
#include "monitor.h"

#include <cstdio>
#include <cstdlib>

#include "trainrt/log.h"

namespace trainrt::dist {
namespace {

const char* kFailureKey = "failure";
std::string progress_key(int rank) { return "progress/" + std::to_string(rank); }

}  // namespace

Monitor::Monitor(std::shared_ptr<Store> store, int rank, int world_size, std::chrono::milliseconds heartbeat,
                 FailureHandler on_remote_failure)
    : store_(std::move(store)), rank_(rank), world_size_(world_size), heartbeat_(heartbeat),
      on_remote_failure_(std::move(on_remote_failure)) {
  thread_ = std::thread([this] { run(); });
}

Monitor::~Monitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Monitor::publish_progress() {
  int64_t seq = issued_.load();
  if (seq == published_) return;
  store_->set(progress_key(rank_), std::to_string(seq));
  published_ = seq;
}

bool Monitor::check_remote_failure() {
  if (reported_ || !store_->check({kFailureKey})) return false;
  std::string reason = store_->get(kFailureKey, heartbeat_);
  on_remote_failure_(reason);
  return true;
}

void Monitor::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    bool failed = false;
    try {
      publish_progress();
      failed = check_remote_failure();
    } catch (const std::exception& e) {
      log(LogLevel::Debug, std::string("rank ") + std::to_string(rank_) + " monitor: " + e.what());
    }
    lock.lock();
    if (failed) {
      // Give the main thread the grace to fail on its own (a nicer error), then leave.
      if (wake_.wait_for(lock, kExitGrace, [&] { return stopping_; })) return;
      if (exit_on_remote_failure_) {
        std::fprintf(stderr, "trainrt: [rank %d] stopping: another rank failed and this one did not stop within %lld s\n",
                     rank_, static_cast<long long>(kExitGrace.count()));
        std::fflush(nullptr);
        std::_Exit(1);
      }
      return;
    }
    wake_.wait_for(lock, heartbeat_, [&] { return stopping_; });
  }
}

std::vector<int> Monitor::ranks_behind(int64_t seq) {
  std::vector<int> behind;
  try {
    store_->set(progress_key(rank_), std::to_string(issued_.load()));
    std::this_thread::sleep_for(heartbeat_ + std::chrono::milliseconds(200));
    for (int r = 0; r < world_size_; ++r) {
      if (r == rank_) continue;
      int64_t progress = 0;
      if (store_->check({progress_key(r)})) progress = std::stoll(store_->get(progress_key(r), heartbeat_));
      if (progress < seq) behind.push_back(r);
    }
  } catch (const std::exception& e) {
    log(LogLevel::Debug, std::string("ranks_behind: ") + e.what());
  }
  return behind;
}

void Monitor::report_failure(const std::string& reason) {
  reported_ = true;
  try {
    if (!store_->check({kFailureKey})) store_->set(kFailureKey, reason);
  } catch (const std::exception& e) {
    log(LogLevel::Debug, std::string("report_failure: ") + e.what());
  }
}

}  // namespace trainrt::dist
