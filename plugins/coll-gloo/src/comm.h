// One rank's Gloo communicator: a gloo::rendezvous::Context connected to every
// peer through the host's store (TCP transport), and one worker thread that
// runs the queued collectives in issue order, as a device stream would.
// After a failure or abort() the context is unusable: every later operation
// fails at once with the first failure's message.
// Not here: the collectives themselves (collectives.cpp), the C ABI (plugin.cpp).
#pragma once
#include <gloo/context.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "trainrt/plugin_abi.h"
#include "work.h"

namespace trt_gloo {

using ContextPtr = std::shared_ptr<gloo::Context>;

class Comm {
 public:
  // A collective body: runs on the worker thread with a tag unique to it.
  using Body = std::function<void(const ContextPtr& context, uint32_t tag)>;

  // Connects to every peer (blocking, up to options.timeout_ms); throws
  // std::runtime_error with the reason.
  explicit Comm(const trt_comm_options& options);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  std::shared_ptr<Work> enqueue(Body body);
  void abort();

  int rank() const { return rank_; }
  int size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Task {
    Body body;
    std::shared_ptr<Work> work;
  };
  void run_worker();
  void run_task(Task& task);

  int rank_, size_;
  std::chrono::milliseconds timeout_;
  ContextPtr context_;
  std::mutex mutex_;
  std::condition_variable queue_cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::string failure_;  // first failure or abort reason; set once
  trt_status failure_status_ = TRT_OK;
  uint32_t next_tag_ = 1;
  std::thread worker_;
};

}  // namespace trt_gloo
