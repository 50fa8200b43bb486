// Allocator: how a device hands out and copies raw memory. The CPU one is built
// in (64-byte aligned, counts live and total bytes); a device plugin registers
// its own. Storage is always owned through one of these.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "trainrt/device.h"

namespace trainrt {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  // Copies between this device and the CPU, or within this device.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) = 0;
};

// Live/total byte counters over every allocator (the Lua binding drives its
// collector from bytes_allocated_total; `trainrt bench` prints peak_bytes).
struct MemoryStats {
  std::atomic<int64_t> live_bytes{0};
  std::atomic<int64_t> peak_bytes{0};
  std::atomic<int64_t> allocated_total{0};
  std::atomic<int64_t> cached_bytes{0};  // freed blocks the CPU allocator keeps for reuse
};
MemoryStats& memory_stats();
void note_allocation(int64_t bytes);    // called by allocators
void note_deallocation(int64_t bytes);

// The CPU allocator keeps freed large blocks for reuse (see cpu_allocator.cpp).
void release_cpu_cache();                // frees every cached block
void set_cpu_cache_limit(int64_t bytes);  // default TRAINRT_CPU_CACHE_MB or 1 GiB

Allocator& allocator_for(DeviceType type);  // throws when no plugin provides the device
void register_allocator(DeviceType type, Allocator* allocator);
bool has_allocator(DeviceType type);

}  // namespace trainrt
