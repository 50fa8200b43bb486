// One rank's NCCL communicator: the ncclUniqueId exchanged through the host's
// store, a non-blocking ncclComm_t on the rank's device (so every wait can poll
// with a timeout and abort() works from any thread), a stream of its own for
// callers that pass none, and the first failure, after which every later
// operation fails at once with it.
// Not here: the NCCL call of each collective (collectives.cpp), the C ABI (plugin.cpp).
#pragma once
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "check.h"

namespace trt_nccl {

class Work;

class Comm : public std::enable_shared_from_this<Comm> {
 public:
  // One NCCL call, enqueued on `stream` for communicator `comm`.
  using Call = std::function<ncclResult_t(ncclComm_t comm, cudaStream_t stream)>;

  // Checks the device, exchanges the unique id, initializes the communicator
  // (waiting up to options.timeout_ms for every rank); throws Failure.
  explicit Comm(const trt_comm_options& options);
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  // Enqueues call on `stream` (the communicator's own when null) and returns
  // a work whose event is recorded after it; throws Failure.
  std::shared_ptr<Work> enqueue(const char* op, void* stream, const Call& call);
  // TRT_OK while the communicator works, else the first failure (an error NCCL
  // reported asynchronously, an abort) with its message.
  trt_status health(std::string& message);
  // Aborts the NCCL communicator (its kernels stop); later operations fail. Any thread.
  void abort();
  // destroy(): a healthy communicator is finalized (waiting for its operations,
  // up to the timeout), a broken one aborted; then everything is freed.
  void shutdown();

  int rank() const { return rank_; }
  int size() const { return size_; }
  float* scratch() const { return scratch_; }  // one float on the device (barrier)

 private:
  // While NCCL says ncclInProgress: polls, up to deadline. Holds mutex_.
  void wait_ready(const std::string& what, std::chrono::steady_clock::time_point deadline);
  void fail_locked(trt_status status, const std::string& message);
  void release();

  const int rank_, size_, device_;
  const std::chrono::milliseconds timeout_;
  std::atomic<bool> aborting_{false};
  std::mutex mutex_;  // comm_ and the failure; NCCL calls on one communicator are not thread-safe
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  float* scratch_ = nullptr;
  std::string failure_;  // first failure, abort or destroy; set once
  trt_status failure_status_ = TRT_OK;
};

// Makes `device` current on this thread, and the previous one again at scope end.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int device_, previous_ = -1;
};

// "" when cuda:index can be used; else the one-line reason
// ("nccl: no CUDA device visible (CUDA driver version is insufficient ...)").
std::string device_problem(int index);

}  // namespace trt_nccl
