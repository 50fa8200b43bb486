// Which Allocator serves which device type, and the process-wide memory counters.
#include <array>

#include "trainrt/allocator.h"
#include "trainrt/error.h"

namespace trainrt {

Allocator* cpu_allocator();  // cpu/cpu_allocator.cpp

namespace {
std::array<Allocator*, 2>& table() {
  static std::array<Allocator*, 2> allocators{cpu_allocator(), nullptr};
  return allocators;
}
}  // namespace

MemoryStats& memory_stats() {
  static MemoryStats stats;
  return stats;
}

void note_allocation(int64_t bytes) {
  auto& s = memory_stats();
  int64_t live = s.live_bytes.fetch_add(bytes) + bytes;
  s.allocated_total.fetch_add(bytes);
  int64_t peak = s.peak_bytes.load();
  while (live > peak && !s.peak_bytes.compare_exchange_weak(peak, live)) {
  }
}

void note_deallocation(int64_t bytes) { memory_stats().live_bytes.fetch_sub(bytes); }

Allocator& allocator_for(DeviceType type) {
  Allocator* a = table().at(static_cast<size_t>(type));
  TRT_CHECK(a != nullptr, "no allocator for device type ", device_type_name(type),
            ": is its plugin loaded? (run `trainrt plugins`)");
  return *a;
}

void register_allocator(DeviceType type, Allocator* allocator) { table().at(static_cast<size_t>(type)) = allocator; }
bool has_allocator(DeviceType type) { return table().at(static_cast<size_t>(type)) != nullptr; }

}  // namespace trainrt
