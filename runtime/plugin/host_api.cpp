// Services a plugin may call during init. Each checks the record it is given
// (struct size, ABI version, required fields) and never throws: failures
// become a status plus the refusal reason.
#include "host_api.h"

#include <cstring>

#include "trainrt/allocator.h"
#include "trainrt/log.h"

namespace trainrt {
namespace {

PendingRegistrations& pending_of(void* host) { return *static_cast<PendingRegistrations*>(host); }

trt_status reject(void* host, const std::string& why) {
  auto& p = pending_of(host);
  if (p.error.empty()) p.error = why;
  return TRT_ERR_INVALID_ARGUMENT;
}

// Copies a def that may be older (smaller) than ours; missing fields read as zero.
template <typename Def> bool copy_def(const Def* in, Def& out) {
  if (!in || in->struct_size < 2 * sizeof(uint32_t)) return false;
  std::memset(&out, 0, sizeof(Def));
  std::memcpy(&out, in, std::min<size_t>(in->struct_size, sizeof(Def)));
  return true;
}

void host_log(void*, int32_t level, const char* message) {
  if (level < TRT_LOG_DEBUG || level > TRT_LOG_ERROR) level = TRT_LOG_INFO;
  log(static_cast<LogLevel>(level), message ? message : "");
}

void* host_alloc(void*, int32_t device_type, int32_t device_index, size_t bytes) {
  try {
    return allocator_for(static_cast<DeviceType>(device_type))
        .allocate(Device{static_cast<DeviceType>(device_type), device_index}, bytes);
  } catch (...) {
    return nullptr;
  }
}

void host_free(void*, int32_t device_type, int32_t device_index, void* ptr, size_t bytes) {
  try {
    allocator_for(static_cast<DeviceType>(device_type))
        .deallocate(Device{static_cast<DeviceType>(device_type), device_index}, ptr, bytes);
  } catch (...) {
  }
}

trt_status host_register_kernel(void* host, const trt_kernel_def* def) {
  trt_kernel_def d;
  if (!copy_def(def, d)) return reject(host, "register_kernel: null or truncated trt_kernel_def");
  if (!d.op || !d.fn) return reject(host, "register_kernel: op name and fn are required");
  if (d.device_type != TRT_DEVICE_CPU && d.device_type != TRT_DEVICE_CUDA)
    return reject(host, std::string("register_kernel: unknown device type for op ") + d.op);
  pending_of(host).kernels.push_back({d.op, d.device_type, d.fn});
  return TRT_OK;
}

// Checks the fields appended in ABI 1.1 and copies the attribute declarations.
std::string check_layer(const trt_layer_def& d, PendingLayer& layer) {
  const std::string what = std::string("register_layer '") + d.name + "': ";
  if (!d.infer && !d.infer_outputs) return what + "infer or infer_outputs is required";
  if (d.n_outputs < 0 || d.n_outputs > 32) return what + "n_outputs must be 0..32";
  if (d.n_outputs > 1 && !d.infer_outputs) return what + "a layer with several outputs needs infer_outputs";
  if (d.n_attrs < 0 || (d.n_attrs > 0 && !d.attrs)) return what + "n_attrs > 0 needs an attrs array";
  for (int32_t i = 0; i < d.n_attrs; ++i) {
    const trt_layer_attr& a = d.attrs[i];
    if (!a.name || !a.name[0]) return what + "attribute " + std::to_string(i) + " has no name";
    if (a.kind != TRT_ATTR_FLOAT && a.kind != TRT_ATTR_INT)
      return what + "attribute '" + a.name + "' has unknown kind " + std::to_string(a.kind);
    for (const std::string& seen : layer.attr_names)
      if (seen == a.name) return what + "attribute '" + a.name + "' is declared twice";
    layer.attr_names.push_back(a.name);
    layer.attrs.push_back(a);
  }
  if (d.n_params < 0) return what + "n_params must not be negative";
  if (d.n_params > 0 && !d.param) return what + "n_params > 0 needs param()";
  if (d.n_params > 0 && d.n_inputs < d.n_params)
    return what + "n_inputs (" + std::to_string(d.n_inputs) + ") must count the " + std::to_string(d.n_params) +
           " parameters";
  return "";
}

trt_status host_register_layer(void* host, const trt_layer_def* def) {
  PendingLayer layer;
  trt_layer_def& d = layer.def;
  if (!copy_def(def, d)) return reject(host, "register_layer: null or truncated trt_layer_def");
  if (!d.name || !d.forward) return reject(host, "register_layer: name and forward are required");
  if (std::string why = check_layer(d, layer); !why.empty()) return reject(host, why);
  layer.name = d.name;
  pending_of(host).layers.push_back(std::move(layer));
  return TRT_OK;
}

trt_status host_register_loader(void* host, const trt_loader_def* def) {
  trt_loader_def d;
  if (!copy_def(def, d)) return reject(host, "register_loader: null or truncated trt_loader_def");
  if (!d.name || !d.open || !d.length || !d.num_fields || !d.field_spec || !d.read || !d.close)
    return reject(host, "register_loader: name and all of open/length/num_fields/field_spec/read/close are required");
  pending_of(host).loaders.push_back({d.name, d});
  return TRT_OK;
}

trt_status host_register_collective(void* host, const trt_collective_def* def) {
  trt_collective_def d;
  if (!copy_def(def, d)) return reject(host, "register_collective: null or truncated trt_collective_def");
  if (!d.name) return reject(host, "register_collective: name is required");
  std::string name = d.name;
  PendingCollective pending{name, d.device_type, {}};
  if (!copy_def(static_cast<const trt_collective_backend*>(d.backend), pending.backend))
    return reject(host, "register_collective " + name + ": backend must point at a trt_collective_backend");
  const trt_collective_backend& b = pending.backend;
  if (!b.create || !b.work_wait || !b.work_test || !b.work_free || !b.abort || !b.destroy)
    return reject(host, "register_collective " + name +
                            ": create, work_wait, work_test, work_free, abort and destroy are required");
  pending_of(host).collectives.push_back(std::move(pending));
  return TRT_OK;
}

trt_status host_register_device(void* host, const trt_device_def* def) {
  trt_device_def d;
  if (!copy_def(def, d)) return reject(host, "register_device: null or truncated trt_device_def");
  if (!d.name) return reject(host, "register_device: name is required");
  std::string name = d.name;
  if (d.device_type != TRT_DEVICE_CUDA)
    return reject(host, "register_device " + name + ": only the cuda device type can be provided (cpu is built in)");
  PendingDevice pending{name, d.device_type, {}};
  if (!copy_def(static_cast<const trt_device_backend*>(d.backend), pending.backend))
    return reject(host, "register_device " + name + ": backend must point at a trt_device_backend");
  const trt_device_backend& b = pending.backend;
  if (!b.device_count || !b.properties || !b.malloc || !b.free || !b.mem_info || !b.memcpy || !b.stream_create ||
      !b.stream_destroy || !b.stream_synchronize || !b.event_create || !b.event_destroy || !b.event_record ||
      !b.stream_wait_event || !b.event_synchronize || !b.synchronize)
    return reject(host, "register_device " + name + ": every entry but empty_cache is required");
  pending_of(host).devices.push_back(std::move(pending));
  return TRT_OK;
}

}  // namespace

trt_host_api make_host_api(PendingRegistrations* pending) {
  trt_host_api api{};
  api.struct_size = sizeof(api);
  api.abi_version = TRT_PLUGIN_ABI_VERSION;
  api.host = pending;
  api.log = host_log;
  api.alloc = host_alloc;
  api.free = host_free;
  api.register_kernel = host_register_kernel;
  api.register_layer = host_register_layer;
  api.register_loader = host_register_loader;
  api.register_collective = host_register_collective;
  api.register_device = host_register_device;
  return api;
}

}  // namespace trainrt
