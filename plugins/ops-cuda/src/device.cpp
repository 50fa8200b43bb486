// The CUDA device backend (trt_device_backend) over the CUDA runtime: device
// count and properties, raw memory, copies, streams, events. The host builds
// the caching allocator, the per-device queues and the messages on top
// (runtime/device/), shared with the CPU.
// The runtime is linked statically and loads the driver (libcuda.so.1) on its
// first call, so nothing here runs at plugin load; on a machine without a
// driver device_count answers 0 with "driver: not found".
// CPU twin: none (the CPU device is built into the host, runtime/device/cpu).
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstring>

#include "cuda_libs.h"
#include "kernels.h"

namespace trt_cuda {
namespace {

trt_status report(cudaError_t e, const char* what, char* error, size_t capacity) {
  if (e == cudaSuccess) return TRT_OK;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  std::snprintf(error, capacity, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return e == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL;
}

// Why cudaGetDeviceCount found nothing, in the words `trainrt devices` prints.
void explain_no_device(cudaError_t e, char* error, size_t capacity) {
  if (e == cudaErrorInsufficientDriver) {
    void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver) {
      std::snprintf(error, capacity, "driver: not found (libcuda.so.1 cannot be loaded; on Docker, run with --gpus all "
                                     "and the NVIDIA container toolkit)");
      return;
    }
    dlclose(driver);
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    std::snprintf(error, capacity, "driver: too old for CUDA runtime %d.%d; update the NVIDIA driver", runtime / 1000,
                  runtime % 1000 / 10);
    return;
  }
  int driver = 0;
  cudaDriverGetVersion(&driver);
  if (e == cudaErrorNoDevice || e == cudaSuccess)
    std::snprintf(error, capacity, "driver: %d.%d, no GPU (none installed, or CUDA_VISIBLE_DEVICES hides them)",
                  driver / 1000, driver % 1000 / 10);
  else
    std::snprintf(error, capacity, "driver: %d.%d, %s (%s)", driver / 1000, driver % 1000 / 10, cudaGetErrorString(e),
                  cudaGetErrorName(e));
}

trt_status device_count(int32_t* count, char* error, size_t capacity) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    *count = 0;
    explain_no_device(e, error, capacity);
    return TRT_OK;
  }
  *count = n;
  return TRT_OK;
}

trt_status properties(int32_t index, trt_device_properties* p, char* error, size_t capacity) {
  cudaDeviceProp prop{};
  if (trt_status s = report(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties", error, capacity))
    return s;
  std::snprintf(p->name, sizeof p->name, "%.127s", prop.name);
  const unsigned char* u = reinterpret_cast<const unsigned char*>(prop.uuid.bytes);
  std::snprintf(p->uuid, sizeof p->uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  p->total_memory = static_cast<int64_t>(prop.totalGlobalMem);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice(index) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
    p->free_memory = static_cast<int64_t>(free_bytes);
  cudaGetLastError();
  p->compute_major = prop.major;
  p->compute_minor = prop.minor;
  p->multiprocessors = prop.multiProcessorCount;
  cudaDriverGetVersion(&p->driver_version);
  cudaRuntimeGetVersion(&p->runtime_version);
  p->pci_bus_id = prop.pciBusID;
  return TRT_OK;
}

trt_status device_malloc(int32_t index, size_t bytes, void** ptr, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  return report(cudaMalloc(ptr, bytes), "cudaMalloc", error, capacity);
}

trt_status device_free(int32_t index, void* ptr, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  return report(cudaFree(ptr), "cudaFree", error, capacity);
}

trt_status mem_info(int32_t index, int64_t* free_bytes, int64_t* total_bytes, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  size_t f = 0, t = 0;
  if (trt_status s = report(cudaMemGetInfo(&f, &t), "cudaMemGetInfo", error, capacity)) return s;
  *free_bytes = static_cast<int64_t>(f);
  *total_bytes = static_cast<int64_t>(t);
  return TRT_OK;
}

trt_status copy(void* dst, int32_t dst_type, int32_t dst_index, const void* src, int32_t src_type, int32_t src_index,
                size_t bytes, void* stream, char* error, size_t capacity) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  bool dst_gpu = dst_type == TRT_DEVICE_CUDA, src_gpu = src_type == TRT_DEVICE_CUDA;
  if (trt_status st = report(cudaSetDevice(dst_gpu ? dst_index : src_index), "cudaSetDevice", error, capacity))
    return st;
  cudaError_t e;
  if (dst_gpu && src_gpu && dst_index != src_index)
    e = s ? cudaMemcpyPeerAsync(dst, dst_index, src, src_index, bytes, s)
          : cudaMemcpyPeer(dst, dst_index, src, src_index, bytes);
  else
    e = s ? cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s) : cudaMemcpy(dst, src, bytes, cudaMemcpyDefault);
  return report(e, "copy", error, capacity);
}

trt_status stream_create(int32_t index, void** stream, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  cudaStream_t created = nullptr;
  // Non-blocking: the legacy default stream must not serialise trainrt's queues.
  if (trt_status s = report(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking), "cudaStreamCreate", error,
                            capacity))
    return s;
  *stream = created;
  return TRT_OK;
}

void stream_destroy(int32_t index, void* stream) {
  if (cudaSetDevice(index) == cudaSuccess) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
  cudaGetLastError();
}

trt_status stream_synchronize(void* stream, char* error, size_t capacity) {
  return report(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize", error, capacity);
}

trt_status event_create(int32_t index, void** event, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  cudaEvent_t created = nullptr;
  if (trt_status s = report(cudaEventCreateWithFlags(&created, cudaEventDisableTiming), "cudaEventCreate", error,
                            capacity))
    return s;
  *event = created;
  return TRT_OK;
}

void event_destroy(void* event) {
  cudaEventDestroy(static_cast<cudaEvent_t>(event));
  cudaGetLastError();
}

trt_status event_record(void* event, void* stream, char* error, size_t capacity) {
  return report(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)),
                "cudaEventRecord", error, capacity);
}

trt_status stream_wait_event(void* stream, void* event, char* error, size_t capacity) {
  return report(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0),
                "cudaStreamWaitEvent", error, capacity);
}

trt_status event_synchronize(void* event, char* error, size_t capacity) {
  return report(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cudaEventSynchronize", error, capacity);
}

trt_status synchronize(int32_t index, char* error, size_t capacity) {
  if (trt_status s = report(cudaSetDevice(index), "cudaSetDevice", error, capacity)) return s;
  return report(cudaDeviceSynchronize(), "cudaDeviceSynchronize", error, capacity);
}

void empty_cache(int32_t index) { release_library_caches(index); }

const trt_device_backend kBackend = [] {
  trt_device_backend b{};
  b.struct_size = sizeof b;
  b.abi_version = TRT_PLUGIN_ABI_VERSION;
  b.device_count = device_count;
  b.properties = properties;
  b.malloc = device_malloc;
  b.free = device_free;
  b.mem_info = mem_info;
  b.memcpy = copy;
  b.stream_create = stream_create;
  b.stream_destroy = stream_destroy;
  b.stream_synchronize = stream_synchronize;
  b.event_create = event_create;
  b.event_destroy = event_destroy;
  b.event_record = event_record;
  b.stream_wait_event = stream_wait_event;
  b.event_synchronize = event_synchronize;
  b.synchronize = synchronize;
  b.empty_cache = empty_cache;
  return b;
}();

}  // namespace

bool register_device(const trt_host_api* host) {
  trt_device_def def{};
  def.struct_size = sizeof def;
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "cuda";
  def.device_type = TRT_DEVICE_CUDA;
  def.backend = &kBackend;
  return host->register_device(host->host, &def) == TRT_OK;
}

}  // namespace trt_cuda
