/* A stand-in CUDA device on host memory, so the CPU-only machines of CI test
 * everything about devices that is not arithmetic: plugin registration of a
 * device type, `trainrt devices`, --device/--devices checks, the caching
 * allocator with per-device counters, the out-of-memory report, copies
 * between host and devices and between two devices, streams and events.
 * Environment (read at each call):
 *   TRT_FAKE_CUDA_DEVICES   number of devices (default 2; 0 = "driver: not found")
 *   TRT_FAKE_CUDA_MEMORY_MB memory per device (default 64)
 * Kernels for cuda, contiguous float32 only: fill, copy, add. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainrt/plugin_abi.h"

#define MAX_FAKE 8

static long long used[MAX_FAKE]; /* bytes handed out per device; the host serialises nothing, so keep it simple */
static long long mallocs[MAX_FAKE];

static int env_int(const char* name, int fallback) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}
static long long capacity(void) { return (long long)env_int("TRT_FAKE_CUDA_MEMORY_MB", 64) << 20; }

static trt_status say(char* error, size_t cap, trt_status status, const char* message) {
  snprintf(error, cap, "%s", message);
  return status;
}

static trt_status device_count(int32_t* count, char* error, size_t cap) {
  *count = env_int("TRT_FAKE_CUDA_DEVICES", 2);
  if (*count > MAX_FAKE) *count = MAX_FAKE;
  if (*count <= 0) {
    *count = 0;
    say(error, cap, TRT_OK, "driver: not found (fake)");
  }
  return TRT_OK;
}

static trt_status properties(int32_t index, trt_device_properties* p, char* error, size_t cap) {
  (void)error; (void)cap;
  snprintf(p->name, sizeof p->name, "Fake GPU %d", index);
  snprintf(p->uuid, sizeof p->uuid, "GPU-fa4e%04d-0000-0000-0000-00000000000%d", index, index);
  p->total_memory = capacity();
  p->free_memory = capacity() - used[index];
  p->compute_major = 9;
  p->compute_minor = 0;
  p->multiprocessors = 132;
  p->driver_version = 13000;
  p->runtime_version = 13000;
  return TRT_OK;
}

/* A header before each block remembers its size, so free can count it back. */
static trt_status fake_malloc(int32_t index, size_t bytes, void** ptr, char* error, size_t cap) {
  if (used[index] + (long long)bytes > capacity()) return say(error, cap, TRT_ERR_OUT_OF_MEMORY, "fake: out of memory");
  size_t* block = (size_t*)malloc(bytes + 64);
  if (!block) return say(error, cap, TRT_ERR_OUT_OF_MEMORY, "fake: host out of memory");
  block[0] = bytes;
  used[index] += (long long)bytes;
  mallocs[index] += 1;
  *ptr = (char*)block + 64;
  return TRT_OK;
}

static trt_status fake_free(int32_t index, void* ptr, char* error, size_t cap) {
  (void)error; (void)cap;
  size_t* block = (size_t*)((char*)ptr - 64);
  used[index] -= (long long)block[0];
  free(block);
  return TRT_OK;
}

static trt_status mem_info(int32_t index, int64_t* free_bytes, int64_t* total, char* error, size_t cap) {
  (void)error; (void)cap;
  *total = capacity();
  *free_bytes = capacity() - used[index];
  return TRT_OK;
}

static trt_status copy(void* dst, int32_t dt, int32_t di, const void* src, int32_t st, int32_t si, size_t bytes,
                       void* stream, char* error, size_t cap) {
  (void)dt; (void)di; (void)st; (void)si; (void)error; (void)cap;
  if (!stream) return say(error, cap, TRT_ERR_INVALID_ARGUMENT, "fake: the host must pass the device's stream");
  memcpy(dst, src, bytes);
  return TRT_OK;
}

/* Streams and events are tokens; work runs at once, so ordering holds trivially. */
static int stream_tokens[MAX_FAKE];
static trt_status stream_create(int32_t index, void** stream, char* error, size_t cap) {
  (void)error; (void)cap;
  *stream = &stream_tokens[index];
  return TRT_OK;
}
static void stream_destroy(int32_t index, void* stream) { (void)index; (void)stream; }
static trt_status ok_stream(void* stream, char* error, size_t cap) { (void)stream; (void)error; (void)cap; return TRT_OK; }
static int event_token;
static trt_status event_create(int32_t index, void** event, char* error, size_t cap) {
  (void)index; (void)error; (void)cap;
  *event = &event_token;
  return TRT_OK;
}
static void event_destroy(void* event) { (void)event; }
static trt_status event_record(void* e, void* s, char* error, size_t cap) { (void)e; (void)s; (void)error; (void)cap; return TRT_OK; }
static trt_status wait_event(void* s, void* e, char* error, size_t cap) { (void)e; (void)s; (void)error; (void)cap; return TRT_OK; }
static trt_status sync_device(int32_t index, char* error, size_t cap) { (void)index; (void)error; (void)cap; return TRT_OK; }

static int64_t numel(const trt_tensor_view* v) {
  int64_t n = 1;
  for (int i = 0; i < v->ndim; ++i) n *= v->sizes[i];
  return n;
}

static int contiguous_f32(const trt_kernel_args* a, const trt_tensor_view* v) {
  int64_t expected = 1;
  for (int i = v->ndim - 1; i >= 0; --i) {
    if (v->sizes[i] != 1 && v->strides[i] != expected) return 0;
    expected *= v->sizes[i];
  }
  return v->dtype == TRT_FLOAT32 && a->stream != NULL && v->device_type == TRT_DEVICE_CUDA;
}

static trt_status refuse(const trt_kernel_args* a) {
  return say(a->error, a->error_capacity, TRT_ERR_UNSUPPORTED,
             "fake cuda: contiguous float32 only, with the device's stream");
}

static trt_status fill(const trt_kernel_args* a) {
  if (!contiguous_f32(a, &a->outputs[0])) return refuse(a);
  float* y = (float*)a->outputs[0].data;
  for (int64_t i = 0, n = numel(&a->outputs[0]); i < n; ++i) y[i] = (float)a->float_attrs[0];
  return TRT_OK;
}

static trt_status copy_kernel(const trt_kernel_args* a) {
  if (!contiguous_f32(a, &a->inputs[0]) || !contiguous_f32(a, &a->outputs[0]) ||
      numel(&a->inputs[0]) != numel(&a->outputs[0]))
    return refuse(a);
  memcpy(a->outputs[0].data, a->inputs[0].data, (size_t)numel(&a->outputs[0]) * sizeof(float));
  return TRT_OK;
}

static trt_status add(const trt_kernel_args* a) {
  for (int k = 0; k < 2; ++k)
    if (!contiguous_f32(a, &a->inputs[k]) || numel(&a->inputs[k]) != numel(&a->outputs[0])) return refuse(a);
  if (!contiguous_f32(a, &a->outputs[0])) return refuse(a);
  const float* x = (const float*)a->inputs[0].data;
  const float* z = (const float*)a->inputs[1].data;
  float* y = (float*)a->outputs[0].data;
  for (int64_t i = 0, n = numel(&a->outputs[0]); i < n; ++i) y[i] = x[i] + z[i];
  return TRT_OK;
}

static trt_status add_kernel(const trt_host_api* host, const char* op, trt_kernel_fn fn) {
  trt_kernel_def k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  k.abi_version = TRT_PLUGIN_ABI_VERSION;
  k.op = op;
  k.device_type = TRT_DEVICE_CUDA;
  k.fn = fn;
  return host->register_kernel(host->host, &k);
}

static trt_device_backend backend;

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  info->name = "test-fake-cuda";
  info->version = "1.0.0";
  info->description = "a CUDA device on host memory, for tests";
  if (!TRT_HOST_HAS(host, register_device)) return say(error, cap, TRT_ERR_ABI, "host has no register_device");
  memset(&backend, 0, sizeof backend);
  backend.struct_size = sizeof backend;
  backend.abi_version = TRT_PLUGIN_ABI_VERSION;
  backend.device_count = device_count;
  backend.properties = properties;
  backend.malloc = fake_malloc;
  backend.free = fake_free;
  backend.mem_info = mem_info;
  backend.memcpy = copy;
  backend.stream_create = stream_create;
  backend.stream_destroy = stream_destroy;
  backend.stream_synchronize = ok_stream;
  backend.event_create = event_create;
  backend.event_destroy = event_destroy;
  backend.event_record = event_record;
  backend.stream_wait_event = wait_event;
  backend.event_synchronize = ok_stream;
  backend.synchronize = sync_device;
  trt_device_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = "cuda";
  d.device_type = TRT_DEVICE_CUDA;
  d.backend = &backend;
  trt_status s = host->register_device(host->host, &d);
  if (s == TRT_OK) s = add_kernel(host, "fill", fill);
  if (s == TRT_OK) s = add_kernel(host, "copy", copy_kernel);
  if (s == TRT_OK) s = add_kernel(host, "add", add);
  return s;
}

TRT_PLUGIN_EXPORT(init)
