// Storage: one refcounted block of device memory, owned through its device's
// Allocator. Tensors are views onto a Storage; several may share one.
#pragma once
#include <cstddef>
#include <memory>

#include "trainrt/allocator.h"
#include "trainrt/device.h"

namespace trainrt {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace trainrt
