// The allocator of a plugin-provided device type: a BlockCache per device over
// the backend's raw malloc/free (the same size classes the CPU allocator uses;
// every size is cached, since a device malloc synchronizes the device), and
// the out-of-memory path: empty this device's cache, retry once, then fail
// with format_out_of_memory's report. Reuse is stream-ordered: storage comes
// back here only after the last queued kernel that used it was enqueued on the
// device's one stream, and every later user of the block is ordered after it
// on that stream. Copies go through device_copy (device_registry.cpp).
#include <map>
#include <memory>
#include <mutex>

#include "device/block_cache.h"
#include "trainrt/allocator.h"
#include "trainrt/devices.h"

namespace trainrt {
namespace {

constexpr size_t kGranularity = 512;

int64_t device_cache_limit() {
  const char* env = std::getenv("TRAINRT_DEVICE_CACHE_MB");
  if (!env || !*env) return INT64_MAX;  // like PyTorch: keep everything until empty_cache or OOM
  char* end = nullptr;
  long long mb = std::strtoll(env, &end, 10);
  TRT_CHECK(end && *end == '\0' && mb >= 0, "TRAINRT_DEVICE_CACHE_MB must be a whole number of MiB, got '", env, "'");
  return static_cast<int64_t>(mb) << 20;
}

class DeviceAllocator final : public Allocator {
 public:
  DeviceAllocator(DeviceType type, const trt_device_backend& backend) : type_(type), backend_(backend) {}

  void* allocate(Device device, size_t bytes) override {
    check_device_available(device);
    PerDevice& d = per_device(device);
    size_t block = d.cache.block_size(bytes);
    {
      std::lock_guard lock(d.mutex);
      if (void* p = d.cache.take(block)) {
        note_cached(device, -static_cast<int64_t>(block));
        note_allocation(device, static_cast<int64_t>(bytes));
        return p;
      }
    }
    char error[512] = {0};
    void* p = nullptr;
    trt_status status = backend_.malloc(device.index, block, &p, error, sizeof error);
    int64_t released = 0;
    if (status == TRT_ERR_OUT_OF_MEMORY) {  // the cache may hold what we need, in other size classes
      released = release(device, d);
      if (released > 0) status = backend_.malloc(device.index, block, &p, error, sizeof error);
    }
    if (status == TRT_ERR_OUT_OF_MEMORY)
      throw OutOfMemoryError(format_out_of_memory(report(device, bytes, released)));
    if (status != TRT_OK) fail(device.str() + ": allocating " + format_bytes(static_cast<int64_t>(bytes)) + " failed: " + error);
    note_allocation(device, static_cast<int64_t>(bytes));
    return p;
  }

  void deallocate(Device device, void* ptr, size_t bytes) override {
    note_deallocation(device, static_cast<int64_t>(bytes));
    PerDevice& d = per_device(device);
    size_t block = d.cache.block_size(bytes);
    {
      std::lock_guard lock(d.mutex);
      if (d.cache.keep(ptr, block)) {
        note_cached(device, static_cast<int64_t>(block));
        return;
      }
    }
    char error[512] = {0};
    backend_.free(device.index, ptr, error, sizeof error);  // nothing to do about a failed free at release time
  }

  void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) override {
    device_copy(dst, dst_device, src, src_device, bytes);
  }

  void empty_cache() override {
    std::vector<std::pair<Device, PerDevice*>> devices;
    {
      std::lock_guard lock(mutex_);
      for (auto& [index, d] : devices_) devices.emplace_back(Device{type_, index}, d.get());
    }
    for (auto& [device, d] : devices) release(device, *d);
  }

 private:
  struct PerDevice {
    std::mutex mutex;
    BlockCache cache{kGranularity, 0, device_cache_limit()};
  };

  PerDevice& per_device(Device device) {
    std::lock_guard lock(mutex_);
    auto& d = devices_[device.index];
    if (!d) d = std::make_unique<PerDevice>();
    return *d;
  }

  // Frees this device's cached blocks; returns the bytes released. The device
  // is synchronized first: a cached block may still be read by queued work
  // only in stream order, but the driver's free is not stream-ordered.
  int64_t release(Device device, PerDevice& d) {
    std::lock_guard lock(d.mutex);
    int64_t released = d.cache.cached_bytes();
    if (released == 0) return 0;
    char error[512] = {0};
    backend_.synchronize(device.index, error, sizeof error);
    d.cache.drain([&](void* p, size_t) { backend_.free(device.index, p, error, sizeof error); });
    note_cached(device, -released);
    return released;
  }

  OutOfMemoryReport report(Device device, size_t bytes, int64_t released) {
    OutOfMemoryReport r;
    r.device = device;
    r.op = CurrentOp::name();
    r.requested = static_cast<int64_t>(bytes);
    char error[512] = {0};
    int64_t free = -1, total = -1;
    if (backend_.mem_info(device.index, &free, &total, error, sizeof error) == TRT_OK) {
      r.free = free;
      r.total = total;
    }
    DeviceMemory m = device_memory(device);
    r.cached = m.cached_bytes + released;
    r.released = released > 0;
    r.live = m.live_bytes;
    return r;
  }

  DeviceType type_;
  trt_device_backend backend_;
  std::mutex mutex_;
  std::map<int, std::unique_ptr<PerDevice>> devices_;
};

}  // namespace

std::unique_ptr<Allocator> make_device_allocator(DeviceType type, const trt_device_backend& backend) {
  return std::make_unique<DeviceAllocator>(type, backend);
}

}  // namespace trainrt
