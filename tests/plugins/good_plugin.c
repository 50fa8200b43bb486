/* A minimal well-formed plugin in plain C: registers one CPU kernel
 * ("test_square": y = x * x on contiguous float32) and one loader. Built twice:
 * as-is, and with TRT_PLUGIN_ABI_VERSION=2 to test the version refusal. */
#include <string.h>

#include "trainrt/plugin_abi.h"

#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "test-good"
#endif

static trt_status square(const trt_kernel_args* a) {
  const trt_tensor_view* x = &a->inputs[0];
  const trt_tensor_view* y = &a->outputs[0];
  if (x->dtype != TRT_FLOAT32) {
    strncpy(a->error, "test_square: float32 only", a->error_capacity - 1);
    return TRT_ERR_UNSUPPORTED;
  }
  int64_t n = 1;
  for (int i = 0; i < x->ndim; ++i) n *= x->sizes[i];
  const float* xp = (const float*)x->data;
  float* yp = (float*)y->data;
  for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] * xp[i];
  return TRT_OK;
}

/* A loader of `n` samples (n from the options string), sample i = {float i}. */
static trt_status counting_open(const char* options, void** handle, char* error, size_t cap) {
  (void)error; (void)cap;
  *handle = (void*)(intptr_t)(options && options[0] ? options[0] - '0' : 3);
  return TRT_OK;
}
static int64_t counting_length(void* h) { return (int64_t)(intptr_t)h; }
static int32_t counting_fields(void* h) { (void)h; return 1; }
static trt_status counting_spec(void* h, int32_t field, trt_sample_spec* spec) {
  (void)h; (void)field;
  spec->dtype = TRT_FLOAT32;
  spec->ndim = 1;
  spec->sizes[0] = 1;
  return TRT_OK;
}
static trt_status counting_read(void* h, int64_t index, int32_t field, void* dst, char* error, size_t cap) {
  (void)h; (void)field; (void)error; (void)cap;
  *(float*)dst = (float)index;
  return TRT_OK;
}
static void counting_close(void* h) { (void)h; }

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error; (void)cap;
  info->name = TEST_PLUGIN_NAME;
  info->version = "1.2.3";
  info->description = "test plugin";
  trt_kernel_def k;
  memset(&k, 0, sizeof k);
  k.struct_size = sizeof k;
  k.abi_version = TRT_PLUGIN_ABI_VERSION;
  k.op = "test_square";
  k.device_type = TRT_DEVICE_CPU;
  k.fn = square;
  trt_status s = host->register_kernel(host->host, &k);
  if (s != TRT_OK) return s;
  trt_loader_def l;
  memset(&l, 0, sizeof l);
  l.struct_size = sizeof l;
  l.abi_version = TRT_PLUGIN_ABI_VERSION;
  l.name = "test-counting";
  l.open = counting_open;
  l.length = counting_length;
  l.num_fields = counting_fields;
  l.field_spec = counting_spec;
  l.read = counting_read;
  l.close = counting_close;
  host->log(host->host, TRT_LOG_DEBUG, "test-good plugin initialised");
  return host->register_loader(host->host, &l);
}

TRT_PLUGIN_EXPORT(init)
