// Work over a CUDA event: query, and a polling wait that watches the
// communicator's health (see work.h).
#include "work.h"

#include <chrono>
#include <thread>

namespace trt_nccl {

Work::~Work() {
  if (event_) cudaEventDestroy(event_);  // released once recorded work completes
}

bool Work::poll() {
  if (finished_) return true;
  cudaError_t e = cudaEventQuery(event_);
  if (e == cudaSuccess) {
    finished_ = true;
    return true;
  }
  if (e != cudaErrorNotReady) {
    cudaGetLastError();
    status_ = TRT_ERR_INTERNAL;
    message_ = cuda_message("cudaEventQuery", e);
    finished_ = true;
    return true;
  }
  std::string why;
  trt_status health = comm_->health(why);
  if (health == TRT_OK) return false;
  status_ = health;
  message_ = why;
  finished_ = true;
  return true;
}

trt_status Work::wait(int64_t timeout_ms, std::string& message) {
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(20);
  std::unique_lock lock(mutex_);
  while (!poll()) {
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(timeout_ms)) {
      message = "nccl: operation still running after " + std::to_string(timeout_ms) + " ms";
      return TRT_ERR_TIMEOUT;
    }
    lock.unlock();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
    lock.lock();
  }
  message = message_;
  return status_;
}

bool Work::done() {
  std::lock_guard lock(mutex_);
  return poll();
}

}  // namespace trt_nccl
