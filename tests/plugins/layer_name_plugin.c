/* A plugin that registers a layer ("test_double": y = 2x on contiguous float32)
 * whose name lives in a buffer it reuses after registering: the host must copy
 * the name, as it does for kernel and loader names, not keep the pointer. */
#include <string.h>

#include "trainrt/plugin_abi.h"

static char name_buffer[32];

static trt_status infer(const trt_tensor_view* in, int32_t n, const double* attrs, int32_t n_attrs, int64_t* sizes,
                        int32_t* ndim, int32_t* dtype, char* error, size_t cap) {
  (void)n; (void)attrs; (void)n_attrs; (void)error; (void)cap;
  *ndim = in[0].ndim;
  for (int i = 0; i < in[0].ndim; ++i) sizes[i] = in[0].sizes[i];
  *dtype = in[0].dtype;
  return TRT_OK;
}

static trt_status forward(const trt_kernel_args* a) {
  int64_t n = 1;
  for (int i = 0; i < a->inputs[0].ndim; ++i) n *= a->inputs[0].sizes[i];
  const float* x = (const float*)a->inputs[0].data;
  float* y = (float*)a->outputs[0].data;
  for (int64_t i = 0; i < n; ++i) y[i] = 2 * x[i];
  return TRT_OK;
}

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error; (void)cap;
  info->name = "test-layer-name";
  info->version = "1.0.0";
  info->description = "layer registered from a reused name buffer";
  strcpy(name_buffer, "test_double");
  trt_layer_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = name_buffer;
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 1;
  d.infer = infer;
  d.forward = forward;
  trt_status s = host->register_layer(host->host, &d);
  strcpy(name_buffer, "reused");  /* the buffer now holds something else */
  return s;
}

TRT_PLUGIN_EXPORT(init)
