// Devices other than the built-in CPU, as a device plugin (ops-cuda) provides
// them through trt_device_backend: how many are visible, what they are, their
// streams, and the checks and messages every run shares. Also the pure
// functions the tests check without a GPU: CUDA_VISIBLE_DEVICES parsing and
// mapping, and the out-of-memory report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trainrt/device.h"
#include "trainrt/error.h"
#include "trainrt/plugin_abi.h"

namespace trainrt {

struct DeviceProperties {
  Device device;
  std::string name;  // "NVIDIA H100 80GB HBM3"
  std::string uuid;  // "GPU-5c1a..."
  int64_t total_memory = 0;
  int64_t free_memory = 0;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  int driver_version = 0, runtime_version = 0;  // 13000 = 13.0
  int pci_bus_id = 0;
};

// Called by the plugin loader when a plugin registers a device type.
void register_device_backend(DeviceType type, const trt_device_backend& backend, const std::string& plugin);
bool has_device_backend(DeviceType type);
std::string device_backend_plugin(DeviceType type);  // "" when none

// Visible devices of a type: the CPU's logical devices, or the plugin's count
// (0 without a plugin, driver or GPU; no_device_reason says why).
int device_count(DeviceType type);
std::string no_device_reason(DeviceType type);
DeviceProperties device_properties(Device device);  // throws for a device that is not visible

struct DeviceUnavailable : Error {
  using Error::Error;
};
// Throws a one-line DeviceUnavailable when `device` cannot be used:
//   "no CUDA device visible (CUDA_VISIBLE_DEVICES=unset, driver: not found); use --device cpu"
//   "cuda:2 is not visible: 2 CUDA devices (cuda:0, cuda:1) with CUDA_VISIBLE_DEVICES=0,1"
void check_device_available(Device device);

// The device's stream (created on first use; nullptr for the CPU), passed to
// its kernels in trt_kernel_args.stream.
void* device_stream(Device device);
// Blocks until the device's stream has run everything enqueued on it (no-op on CPU).
void synchronize_device_stream(Device device);
// `waiter`'s stream waits for what `producer`'s stream has enqueued so far (an
// event); when waiter is the CPU, the calling thread blocks instead.
void device_stream_wait(Device waiter, Device producer);
// Raw copy between host and device or two devices through the device plugin,
// ordered on the stream of the non-CPU side (dst's when both are devices).
void device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// The devices of this run, in the order the mirrored strategy places replicas
// (--devices): cpu:0 ... cpu:N-1 by default, or cuda:0 ... cuda:N-1.
void set_run_devices(std::vector<Device> devices);
std::vector<Device> run_devices();

// Returns cached blocks to the CPU and every device, and the plugin's library
// caches (trainrt.empty_cache()).
void empty_all_caches();

// ---- CUDA_VISIBLE_DEVICES (what the driver does, for messages and `trainrt devices`) ----
// The entries of the variable: "0,1" -> {"0", "1"}; "GPU-8a1f" -> {"GPU-8a1f"};
// whitespace trimmed; unset -> {} with set = false. As CUDA does, the list
// ends at the first invalid entry.
struct VisibleDevices {
  bool set = false;
  std::string text;                  // the raw value, "unset" when not set
  std::vector<std::string> entries;  // indices or UUID (prefixes), in order
};
VisibleDevices parse_visible_devices(const char* value);
VisibleDevices visible_devices_from_env();  // CUDA_VISIBLE_DEVICES
// For each visible device cuda:i, the physical index it names, given the
// physical devices' UUIDs (as nvidia-smi lists them). An index out of range,
// an unknown or ambiguous UUID prefix, or a repeated device ends the list (the
// driver's rule); `problem` then says which entry and why.
std::vector<int> map_visible_devices(const VisibleDevices& visible, const std::vector<std::string>& physical_uuids,
                                     std::string* problem = nullptr);

// ---- out of memory ----
struct OutOfMemoryReport {
  Device device;
  std::string op;          // the op whose output was being allocated ("" when unknown)
  int64_t requested = 0;   // bytes
  int64_t free = -1;       // device memory free now, -1 unknown
  int64_t total = -1;
  int64_t cached = 0;      // held by trainrt's caching allocator when the request failed
  bool released = false;   // the cache was emptied and the allocation retried
  int64_t live = 0;        // in tensors on this device
};
// "cuda:0 out of memory in conv2d: tried to allocate 1.50 GiB with 200.0 MiB
//  free of 79.10 GiB; 61.00 GiB in tensors, 2.00 GiB cached by trainrt
//  (released and retried). Use a smaller per-device batch (...), ..."
std::string format_out_of_memory(const OutOfMemoryReport& report);
std::string format_bytes(int64_t bytes);  // "1.50 GiB", "12.0 MiB", "512 B"

struct OutOfMemoryError : Error {
  using Error::Error;
};

// The op being run on this thread (set by ops while they allocate outputs), so
// an out-of-memory report can name it.
struct CurrentOp {
  explicit CurrentOp(const char* op);
  ~CurrentOp();
  static const char* name();  // "" outside any op
 private:
  const char* previous_;
};

}  // namespace trainrt
