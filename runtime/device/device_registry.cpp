// Device types provided by plugins (trt_device_backend): counts, properties,
// availability checks, one stream per device for its queue, events between
// streams, and copies. The caching allocator over the backend's raw memory is
// device_allocator.cpp; the CPU needs none of this and is built in.
#include <map>
#include <memory>
#include <mutex>

#include "trainrt/allocator.h"
#include "trainrt/devices.h"
#include "trainrt/stream.h"

namespace trainrt {

std::unique_ptr<Allocator> make_device_allocator(DeviceType type, const trt_device_backend& backend);  // device_allocator.cpp

namespace {

struct Registered {
  trt_device_backend backend{};
  std::string plugin;
  std::unique_ptr<Allocator> allocator;
  std::once_flag counted;
  int count = 0;
  std::string no_device_reason;
  std::mutex streams_mutex;
  std::map<int, void*> streams;  // device index -> stream, never destroyed (queues may outlive statics)
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::map<DeviceType, std::unique_ptr<Registered>>& registry() {
  static auto* devices = new std::map<DeviceType, std::unique_ptr<Registered>>;  // never destroyed, like allocators
  return *devices;
}

Registered* find(DeviceType type) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(type);
  return it == registry().end() ? nullptr : it->second.get();
}

Registered& require(Device device) {
  Registered* r = find(device.type);
  TRT_CHECK(r != nullptr, device.str(), ": no plugin provides ", device_type_name(device.type),
            " (run `trainrt plugins`; the CUDA plugin is built only where nvcc exists)");
  return *r;
}

// "cuda:0: <what> failed: <plugin's reason>"
[[noreturn]] void backend_failed(Device device, const std::string& what, trt_status status, const char* error) {
  fail(device.str() + ": " + what + " failed: " + (error[0] ? error : "status " + std::to_string(status)));
}

void count_devices(Registered& r) {
  std::call_once(r.counted, [&r] {
    char error[512] = {0};
    int32_t count = 0;
    trt_status status = r.backend.device_count(&count, error, sizeof error);
    r.count = status == TRT_OK && count > 0 ? count : 0;
    if (r.count == 0) r.no_device_reason = error[0] ? error : "the plugin reports no devices";
  });
}

}  // namespace

void register_device_backend(DeviceType type, const trt_device_backend& backend, const std::string& plugin) {
  auto r = std::make_unique<Registered>();
  r->backend = backend;
  r->plugin = plugin;
  r->allocator = make_device_allocator(type, r->backend);
  register_allocator(type, r->allocator.get());
  std::lock_guard lock(registry_mutex());
  registry()[type] = std::move(r);
}

bool has_device_backend(DeviceType type) { return type == DeviceType::CPU || find(type) != nullptr; }

std::string device_backend_plugin(DeviceType type) {
  Registered* r = find(type);
  return r ? r->plugin : "";
}

int device_count(DeviceType type) {
  if (type == DeviceType::CPU) return cpu_device_count();
  Registered* r = find(type);
  if (!r) return 0;
  count_devices(*r);
  return r->count;
}

std::string no_device_reason(DeviceType type) {
  if (type == DeviceType::CPU) return "";
  Registered* r = find(type);
  if (!r) return std::string("no plugin provides ") + device_type_name(type) + " (the CUDA plugin is built only where nvcc exists)";
  count_devices(*r);
  return r->count ? "" : r->no_device_reason;
}

DeviceProperties device_properties(Device device) {
  check_device_available(device);
  DeviceProperties p;
  p.device = device;
  if (device.type == DeviceType::CPU) {
    p.name = "cpu";
    return p;
  }
  Registered& r = require(device);
  trt_device_properties raw{};
  raw.struct_size = sizeof raw;
  char error[512] = {0};
  trt_status status = r.backend.properties(device.index, &raw, error, sizeof error);
  if (status != TRT_OK) backend_failed(device, "reading device properties", status, error);
  raw.name[sizeof raw.name - 1] = raw.uuid[sizeof raw.uuid - 1] = '\0';
  p.name = raw.name;
  p.uuid = raw.uuid;
  p.total_memory = raw.total_memory;
  p.free_memory = raw.free_memory;
  p.compute_major = raw.compute_major;
  p.compute_minor = raw.compute_minor;
  p.multiprocessors = raw.multiprocessors;
  p.driver_version = raw.driver_version;
  p.runtime_version = raw.runtime_version;
  p.pci_bus_id = raw.pci_bus_id;
  return p;
}

void check_device_available(Device device) {
  if (device.type == DeviceType::CPU) {
    if (device.index >= cpu_device_count())
      throw DeviceUnavailable(device.str() + " does not exist: this run has " + std::to_string(cpu_device_count()) +
                       " logical CPU device(s); add more with --devices cpu:0,cpu:1,...");
    return;
  }
  std::string kind = device.type == DeviceType::CUDA ? "CUDA" : device_type_name(device.type);
  if (!find(device.type))
    throw DeviceUnavailable("--device " + device.str() + ": no plugin provides " + device_type_name(device.type) +
                     " on this machine (run `trainrt plugins`; the CUDA plugin is built only where nvcc exists); "
                     "use --device cpu");
  int count = device_count(device.type);
  VisibleDevices visible = visible_devices_from_env();
  if (count == 0)
    throw DeviceUnavailable("no " + kind + " device visible (CUDA_VISIBLE_DEVICES=" + visible.text + ", " +
                     no_device_reason(device.type) + "); use --device cpu, or check `trainrt devices`");
  if (device.index >= count) {
    std::string names;
    for (int i = 0; i < count && i < 8; ++i) names += (i ? ", " : "") + Device{device.type, i}.str();
    throw DeviceUnavailable(device.str() + " is not visible: " + std::to_string(count) + " " + kind + " device" +
                     (count == 1 ? "" : "s") + " (" + names + ") with CUDA_VISIBLE_DEVICES=" + visible.text +
                     "; indices count the visible devices from 0");
  }
}

void* device_stream(Device device) {
  if (device.type == DeviceType::CPU) return nullptr;
  Registered& r = require(device);
  std::lock_guard lock(r.streams_mutex);
  void*& stream = r.streams[device.index];
  if (!stream) {
    char error[512] = {0};
    trt_status status = r.backend.stream_create(device.index, &stream, error, sizeof error);
    if (status != TRT_OK) {
      stream = nullptr;
      backend_failed(device, "creating its stream", status, error);
    }
  }
  return stream;
}

void synchronize_device_stream(Device device) {
  if (device.type == DeviceType::CPU) return;
  Registered& r = require(device);
  char error[512] = {0};
  trt_status status = r.backend.stream_synchronize(device_stream(device), error, sizeof error);
  if (status != TRT_OK) backend_failed(device, "synchronizing its stream", status, error);
}

void device_stream_wait(Device waiter, Device producer) {
  if (producer.type == DeviceType::CPU) return;  // the host queue order already covers it
  Registered& r = require(producer);
  char error[512] = {0};
  void* event = nullptr;
  trt_status status = r.backend.event_create(producer.index, &event, error, sizeof error);
  if (status != TRT_OK) backend_failed(producer, "creating an event", status, error);
  std::unique_ptr<void, void (*)(void*)> owned(event, r.backend.event_destroy);
  status = r.backend.event_record(event, device_stream(producer), error, sizeof error);
  if (status != TRT_OK) backend_failed(producer, "recording an event", status, error);
  if (waiter.type == DeviceType::CPU) {
    status = r.backend.event_synchronize(event, error, sizeof error);
    if (status != TRT_OK) backend_failed(producer, "waiting for an event", status, error);
    return;
  }
  Registered& w = require(waiter);
  status = w.backend.stream_wait_event(device_stream(waiter), event, error, sizeof error);
  if (status != TRT_OK) backend_failed(waiter, "waiting for " + producer.str(), status, error);
}

void device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (!bytes) return;
  Device side = dst_device.type != DeviceType::CPU ? dst_device : src_device;
  Registered& r = require(side);
  char error[512] = {0};
  trt_status status = r.backend.memcpy(dst, static_cast<int32_t>(dst_device.type), dst_device.index, src,
                                       static_cast<int32_t>(src_device.type), src_device.index, bytes,
                                       device_stream(side), error, sizeof error);
  if (status != TRT_OK)
    fail("copy of " + format_bytes(static_cast<int64_t>(bytes)) + " from " + src_device.str() + " to " +
         dst_device.str() + " failed: " + error);
  // A copy into host memory must be complete when the host reads it.
  if (dst_device.type == DeviceType::CPU) synchronize_device_stream(side);
}

namespace {
std::mutex run_devices_mutex;
std::vector<Device> run_device_list;  // empty: the logical CPU devices
}  // namespace

void set_run_devices(std::vector<Device> devices) {
  std::lock_guard lock(run_devices_mutex);
  run_device_list = std::move(devices);
}

std::vector<Device> run_devices() {
  {
    std::lock_guard lock(run_devices_mutex);
    if (!run_device_list.empty()) return run_device_list;
  }
  std::vector<Device> cpus;
  for (int i = 0; i < cpu_device_count(); ++i) cpus.push_back({DeviceType::CPU, i});
  return cpus;
}

void empty_all_caches() {
  release_cpu_cache();
  std::vector<std::pair<Allocator*, Registered*>> devices;
  {
    std::lock_guard lock(registry_mutex());
    for (auto& [type, r] : registry()) devices.emplace_back(r->allocator.get(), r.get());
  }
  for (auto& [allocator, r] : devices) {
    allocator->empty_cache();
    if (r->backend.empty_cache) {
      count_devices(*r);
      for (int i = 0; i < r->count; ++i) r->backend.empty_cache(i);
    }
  }
}

}  // namespace trainrt
