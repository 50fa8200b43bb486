// Storage: one refcounted block of device memory, owned through its device's
// Allocator. Tensors are views onto a Storage; several may share one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "trainrt/allocator.h"
#include "trainrt/device.h"

namespace trainrt {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The address as a kernel launched on a queue sees it: no waiting.
  void* data() const { return data_; }
  // Records that the task at `position` of `queue`'s device queue uses this
  // memory (trainrt/stream.h); wait_ready() blocks the host until every
  // recorded use has run, and raises a queue's pending error.
  void note_use(Device queue, uint64_t position);
  void wait_ready();
  // The last recorded use on `queue`'s device queue (0: none pending), so
  // another queue can wait for just that point (cross-device copies).
  uint64_t last_use(Device queue);
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
  std::mutex uses_mutex_;
  std::vector<std::pair<Device, uint64_t>> uses_;  // latest position per queue that used it
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace trainrt
