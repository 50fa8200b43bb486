// Which Allocator serves which device type, and the memory counters: one set
// per device and one over all of them.
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

constexpr int kMaxIndexedDevices = 64;  // per type; higher indices share the last slot's counters

struct Counters {
  std::atomic<int64_t> live{0}, peak{0}, total{0}, cached{0};
};

Counters& counters(Device device) {
  static std::array<std::array<Counters, kMaxIndexedDevices>, 2> all;
  int index = device.index < 0 ? 0 : device.index >= kMaxIndexedDevices ? kMaxIndexedDevices - 1 : device.index;
  return all.at(static_cast<size_t>(device.type)).at(static_cast<size_t>(index));
}

void raise_peak(std::atomic<int64_t>& peak, int64_t live) {
  int64_t seen = peak.load();
  while (live > seen && !peak.compare_exchange_weak(seen, live)) {
  }
}

}  // namespace

MemoryStats& memory_stats() {
  static MemoryStats stats;
  return stats;
}

void note_allocation(Device device, int64_t bytes) {
  auto& s = memory_stats();
  raise_peak(s.peak_bytes, s.live_bytes.fetch_add(bytes) + bytes);
  s.allocated_total.fetch_add(bytes);
  Counters& c = counters(device);
  raise_peak(c.peak, c.live.fetch_add(bytes) + bytes);
  c.total.fetch_add(bytes);
}

void note_deallocation(Device device, int64_t bytes) {
  memory_stats().live_bytes.fetch_sub(bytes);
  counters(device).live.fetch_sub(bytes);
}

void note_cached(Device device, int64_t delta_bytes) {
  memory_stats().cached_bytes.fetch_add(delta_bytes);
  counters(device).cached.fetch_add(delta_bytes);
}

DeviceMemory device_memory(Device device) {
  Counters& c = counters(device);
  return {c.live.load(), c.peak.load(), c.total.load(), c.cached.load()};
}

void reset_peak_memory(Device device) {
  Counters& c = counters(device);
  c.peak.store(c.live.load());
}

Allocator& allocator_for(DeviceType type) {
  Allocator* a = table().at(static_cast<size_t>(type));
  TRT_CHECK(a != nullptr, "no allocator for device type ", device_type_name(type),
            ": is its plugin loaded? (run `trainrt plugins`)");
  return *a;
}

void register_allocator(DeviceType type, Allocator* allocator) { table().at(static_cast<size_t>(type)) = allocator; }
bool has_allocator(DeviceType type) { return table().at(static_cast<size_t>(type)) != nullptr; }

}  // namespace trainrt
