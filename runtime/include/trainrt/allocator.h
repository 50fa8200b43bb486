// Allocator: how a device type hands out and copies raw memory. The CPU one is
// built in (64-byte aligned); a device plugin's goes through its
// trt_device_backend (device_allocator.cpp). Both keep freed blocks for reuse
// in a BlockCache and count bytes per device. Storage is always owned through
// one of these.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "trainrt/device.h"

namespace trainrt {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(Device device, size_t bytes) = 0;
  // Memory freed while a kernel still uses it never gets here: storage returns
  // to the allocator only after its last queued use (stream-ordered reuse).
  virtual void deallocate(Device device, void* ptr, size_t bytes) = 0;
  // Copies between this device and the CPU, or within this device type.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) = 0;
  // Returns every cached block to the system (the OS, or the device driver).
  virtual void empty_cache() = 0;
};

// Live/total byte counters over every allocator (the Lua binding drives its
// collector from bytes_allocated_total; `trainrt bench` prints peak_bytes).
struct MemoryStats {
  std::atomic<int64_t> live_bytes{0};
  std::atomic<int64_t> peak_bytes{0};
  std::atomic<int64_t> allocated_total{0};
  std::atomic<int64_t> cached_bytes{0};  // freed blocks allocators keep for reuse
};
MemoryStats& memory_stats();

// The same counters for one device. Logical CPU devices share one cache of
// host blocks, counted under cpu:0.
struct DeviceMemory {
  int64_t live_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t allocated_total = 0;
  int64_t cached_bytes = 0;
};
DeviceMemory device_memory(Device device);
void reset_peak_memory(Device device);  // peak := live

// Called by allocators.
void note_allocation(Device device, int64_t bytes);
void note_deallocation(Device device, int64_t bytes);
void note_cached(Device device, int64_t delta_bytes);  // + kept for reuse, - reused or released

// The CPU allocator keeps freed large blocks for reuse (see cpu_allocator.cpp).
void release_cpu_cache();                // frees every cached block (trainrt.empty_cache() does all devices)
void set_cpu_cache_limit(int64_t bytes);  // default TRAINRT_CPU_CACHE_MB or 1 GiB

Allocator& allocator_for(DeviceType type);  // throws when no plugin provides the device
void register_allocator(DeviceType type, Allocator* allocator);  // nullptr unregisters
bool has_allocator(DeviceType type);

}  // namespace trainrt
