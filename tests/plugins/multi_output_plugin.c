/* Layers for the host's side of the layer contract (tests/lua/plugin_layer_test.cpp):
 *   split_halves  x (N, 2F) -> a = 2 * x[:, :F], b = x[:, F:]^2, both differentiable,
 *                 so the host must hand backward both grad_outputs at once;
 *   old_double    y = 2x registered with ABI 1.0's shorter trt_layer_def
 *                 (struct_size ends at `backward`): the fields appended since
 *                 must read as zero, so it loads and runs as before.
 * float64 only, contiguous views (the host copies). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "trainrt/plugin_abi.h"

static trt_status fail(char* error, size_t cap, const char* message) {
  snprintf(error, cap, "%s", message);
  return TRT_ERR_INVALID_ARGUMENT;
}

static trt_status split_infer(const trt_tensor_view* in, int32_t n_in, const trt_layer_attrs* attrs,
                              trt_tensor_view* out, int32_t n_out, char* error, size_t cap) {
  (void)n_in;
  (void)attrs;
  if (in[0].dtype != TRT_FLOAT64 || in[0].ndim != 2 || in[0].sizes[1] % 2 != 0)
    return fail(error, cap, "split_halves: x must be float64 (N, 2F)");
  for (int k = 0; k < n_out; ++k) {
    out[k].ndim = 2;
    out[k].sizes[0] = in[0].sizes[0];
    out[k].sizes[1] = in[0].sizes[1] / 2;
  }
  return TRT_OK;
}

/* inputs: x (N, 2F); outputs: a (N, F), b (N, F). */
static trt_status split_forward(const trt_kernel_args* k) {
  const double* x = (const double*)k->inputs[0].data;
  double* a = (double*)k->outputs[0].data;
  double* b = (double*)k->outputs[1].data;
  int64_t n = k->inputs[0].sizes[0], f = k->inputs[0].sizes[1] / 2;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      a[i * f + j] = 2 * x[i * 2 * f + j];
      b[i * f + j] = x[i * 2 * f + f + j] * x[i * 2 * f + f + j];
    }
  return TRT_OK;
}

/* inputs: x, a, b, grad_a, grad_b; outputs: grad_x (zeroed). */
static trt_status split_backward(const trt_kernel_args* k) {
  const double* x = (const double*)k->inputs[0].data;
  const double* ga = (const double*)k->inputs[3].data;
  const double* gb = (const double*)k->inputs[4].data;
  double* gx = (double*)k->outputs[0].data;
  int64_t n = k->inputs[0].sizes[0], f = k->inputs[0].sizes[1] / 2;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      gx[i * 2 * f + j] = 2 * ga[i * f + j];
      gx[i * 2 * f + f + j] = 2 * x[i * 2 * f + f + j] * gb[i * f + j];
    }
  return TRT_OK;
}

static trt_status old_infer(const trt_tensor_view* in, int32_t n, const double* attrs, int32_t n_attrs, int64_t* sizes,
                            int32_t* ndim, int32_t* dtype, char* error, size_t cap) {
  (void)n; (void)attrs; (void)n_attrs; (void)error; (void)cap;
  *ndim = in[0].ndim;
  for (int i = 0; i < in[0].ndim; ++i) sizes[i] = in[0].sizes[i];
  *dtype = in[0].dtype;
  return TRT_OK;
}

static int64_t numel(const trt_tensor_view* v) {
  int64_t n = 1;
  for (int i = 0; i < v->ndim; ++i) n *= v->sizes[i];
  return n;
}

static trt_status old_forward(const trt_kernel_args* k) {
  if (k->inputs[0].dtype != TRT_FLOAT64) return fail(k->error, k->error_capacity, "old_double: float64 only");
  const double* x = (const double*)k->inputs[0].data;
  double* y = (double*)k->outputs[0].data;
  for (int64_t i = 0, n = numel(&k->inputs[0]); i < n; ++i) y[i] = 2 * x[i];
  return TRT_OK;
}

/* inputs: x, y, grad_y; outputs: grad_x. */
static trt_status old_backward(const trt_kernel_args* k) {
  const double* gy = (const double*)k->inputs[2].data;
  double* gx = (double*)k->outputs[0].data;
  for (int64_t i = 0, n = numel(&k->inputs[0]); i < n; ++i) gx[i] = 2 * gy[i];
  return TRT_OK;
}

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error;
  (void)cap;
  info->name = "test-multi-output";
  info->version = "1.0.0";
  info->description = "a two-output layer and an ABI 1.0-sized layer";
  trt_layer_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = "split_halves";
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 1;
  d.n_outputs = 2;
  d.infer_outputs = split_infer;
  d.forward = split_forward;
  d.backward = split_backward;
  trt_status s = host->register_layer(host->host, &d);
  if (s != TRT_OK) return s;

  memset(&d, 0xAB, sizeof d); /* garbage beyond the old struct_size must be ignored */
  d.struct_size = (uint32_t)offsetof(trt_layer_def, n_outputs);
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = "old_double";
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 1;
  d.infer = old_infer;
  d.forward = old_forward;
  d.backward = old_backward;
  return host->register_layer(host->host, &d);
}

TRT_PLUGIN_EXPORT(init)
