// Gloo's rendezvous::Store over the host's trt_store, so Gloo's own
// connectFullMesh exchanges addresses through whatever store the job uses
// (the launcher's TCP store, a shared directory, Redis).
// Deliberately no caching or retry here: the host's store does that.
#pragma once
#include <gloo/rendezvous/store.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainrt/plugin_abi.h"

namespace trt_gloo {

class StoreAdapter : public gloo::rendezvous::Store {
 public:
  StoreAdapter(const trt_store* store, std::chrono::milliseconds timeout) : store_(store), timeout_(timeout) {}

  void set(const std::string& key, const std::vector<char>& data) override {
    char error[512] = {0};
    check(store_->set(store_->handle, key.c_str(), data.data(), data.size(), error, sizeof error), error);
  }

  std::vector<char> get(const std::string& key) override {
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
    value.resize(size);
    return value;
  }

  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }

  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
    std::vector<const char*> names;
    for (const auto& k : keys) names.push_back(k.c_str());
    char error[512] = {0};
    check(store_->wait(store_->handle, names.data(), static_cast<int32_t>(names.size()), timeout.count(), error,
                       sizeof error),
          error);
  }

 private:
  static void check(trt_status status, const char* error) {
    if (status != TRT_OK) throw std::runtime_error(error[0] ? error : "rendezvous store call failed");
  }

  const trt_store* store_;
  std::chrono::milliseconds timeout_;
};

}  // namespace trt_gloo
