// The two calls of the host's trt_store that NCCL's rendezvous needs: rank 0
// publishes the ncclUniqueId under a key, the other ranks wait for it.
// Deliberately no caching or retry here: the host's store does that.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "check.h"

namespace trt_nccl {

class StoreAdapter {
 public:
  StoreAdapter(const trt_store* store, std::chrono::milliseconds timeout) : store_(store), timeout_(timeout) {}

  void set(const std::string& key, const std::string& value) {
    char error[512] = {0};
    check(store_->set(store_->handle, key.c_str(), value.data(), value.size(), error, sizeof error), error);
  }

  // Waits up to the timeout for key.
  std::string get(const std::string& key) {
    char error[512] = {0};
    std::vector<char> value(256);
    size_t size = 0;
    trt_status status = store_->get(store_->handle, key.c_str(), value.data(), value.size(), &size, timeout_.count(),
                                    error, sizeof error);
    if (status == TRT_ERR_INVALID_ARGUMENT && size > value.size()) {  // too small: the key exists now, ask again
      value.resize(size);
      status = store_->get(store_->handle, key.c_str(), value.data(), value.size(), &size, timeout_.count(), error,
                           sizeof error);
    }
    check(status, error);
    return std::string(value.data(), size);
  }

 private:
  static void check(trt_status status, const char* error) {
    if (status != TRT_OK)
      throw Failure(status == TRT_ERR_TIMEOUT ? TRT_ERR_TIMEOUT : TRT_ERR_IO,
                    std::string("nccl: rendezvous store: ") + (error[0] ? error : "call failed"));
  }

  const trt_store* store_;
  std::chrono::milliseconds timeout_;
};

}  // namespace trt_nccl
