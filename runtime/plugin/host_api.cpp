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

void* host_alloc(void*, int32_t device_type, int32_t, size_t bytes) {
  try {
    return allocator_for(static_cast<DeviceType>(device_type)).allocate(bytes);
  } catch (...) {
    return nullptr;
  }
}

void host_free(void*, int32_t device_type, int32_t, void* ptr, size_t bytes) {
  try {
    allocator_for(static_cast<DeviceType>(device_type)).deallocate(ptr, bytes);
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

trt_status host_register_layer(void* host, const trt_layer_def* def) {
  trt_layer_def d;
  if (!copy_def(def, d)) return reject(host, "register_layer: null or truncated trt_layer_def");
  if (!d.name || !d.infer || !d.forward) return reject(host, "register_layer: name, infer and forward are required");
  pending_of(host).layers.push_back({d.name, d});
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
  return api;
}

}  // namespace trainrt
