// The outcome of one queued collective, shared by the communicator's worker
// thread (which finishes it) and the host's work handle (which waits on it).
// Deliberately knows nothing of Gloo: a status, a message and a condition.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "trainrt/plugin_abi.h"

namespace trt_gloo {

inline void write_error(char* error, size_t capacity, const std::string& message) {
  if (error && capacity) std::snprintf(error, capacity, "%s", message.c_str());
}

class Work {
 public:
  void finish(trt_status status, std::string message = {}) {
    {
      std::lock_guard lock(mutex_);
      status_ = status;
      message_ = std::move(message);
      done_ = true;
    }
    done_cv_.notify_all();
  }

  bool done() {
    std::lock_guard lock(mutex_);
    return done_;
  }

  // timeout_ms < 0 waits until done. TRT_ERR_TIMEOUT when still running.
  trt_status wait(int64_t timeout_ms, std::string& message) {
    std::unique_lock lock(mutex_);
    if (timeout_ms < 0) {
      done_cv_.wait(lock, [&] { return done_; });
    } else if (!done_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; })) {
      message = "gloo: operation still running after " + std::to_string(timeout_ms) + " ms";
      return TRT_ERR_TIMEOUT;
    }
    message = message_;
    return status_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  trt_status status_ = TRT_OK;
  std::string message_;
};

}  // namespace trt_gloo
