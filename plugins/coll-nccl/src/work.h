// The outcome of one enqueued collective: a CUDA event recorded after the NCCL
// call on its stream. test() queries the event; wait() polls it with a timeout,
// asking the communicator for asynchronous NCCL errors and aborts meanwhile,
// so no wait is unbounded while the host's monitor can abort.
#pragma once
#include <cuda_runtime_api.h>

#include <memory>
#include <mutex>
#include <string>

#include "comm.h"

namespace trt_nccl {

class Work {
 public:
  Work(std::shared_ptr<Comm> comm, cudaEvent_t event) : comm_(std::move(comm)), event_(event) {}
  ~Work();
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  // timeout_ms < 0 waits until done (or the communicator fails). TRT_ERR_TIMEOUT when still running.
  trt_status wait(int64_t timeout_ms, std::string& message);
  // Finished, successfully or not (wait() says which).
  bool done();

 private:
  // One look: true once the outcome is known (status_ and message_ set).
  bool poll();

  std::shared_ptr<Comm> comm_;
  cudaEvent_t event_;
  std::mutex mutex_;
  bool finished_ = false;
  trt_status status_ = TRT_OK;
  std::string message_;
};

}  // namespace trt_nccl
