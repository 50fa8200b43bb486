// Temporary buffers for kernels from the host's CPU allocator (trainrt's
// caching allocator: counted by trainrt.memory(), reused across calls), set
// once at plugin init. Before init (or for a host without one) they come from
// malloc.
#pragma once
#include <cstddef>

#include "trainrt/plugin_abi.h"

namespace trt_cpu {

void set_host_memory(const trt_host_api* host);
void* host_alloc(size_t bytes);  // nullptr when out of memory
void host_free(void* ptr, size_t bytes);

// One buffer for the lifetime of a kernel call; data() is nullptr when out of memory.
class HostBuffer {
 public:
  explicit HostBuffer(size_t bytes) : ptr_(host_alloc(bytes)), bytes_(bytes) {}
  ~HostBuffer() {
    if (ptr_) host_free(ptr_, bytes_);
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  void* data() const { return ptr_; }

 private:
  void* ptr_;
  size_t bytes_;
};

}  // namespace trt_cpu
