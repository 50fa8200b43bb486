/* Layers for the gradient checker's tests (ABI 1.1 layer fields).
 * Built twice (tests/plugins/CMakeLists.txt):
 *   test-layers      correct layers: scale_square (float + int attribute, a
 *                    second non-differentiable output, no example_input),
 *                    scale_square_strided (TRT_LAYER_STRIDED_INPUTS, kernels
 *                    honour strides) and affine (parameters, float32 only);
 *   test-layers-bad  (TEST_BAD_LAYERS) twice_grad (backward scaled by 2),
 *                    ignores_strides (claims strided inputs, reads them as
 *                    contiguous) and fine_too (correct).
 * Not a model for real plugins: one element at a time through double. */
#include <stdio.h>
#include <string.h>

#include "trainrt/plugin_abi.h"

static int64_t numel_of(const trt_tensor_view* v) {
  int64_t n = 1;
  for (int d = 0; d < v->ndim; ++d) n *= v->sizes[d];
  return n;
}

/* Element offset of row-major index i: through the strides, or i itself for a
 * kernel that assumes contiguous views. */
static int64_t offset_of(const trt_tensor_view* v, int64_t i, int strided) {
  if (!strided) return i;
  int64_t off = 0;
  for (int d = v->ndim - 1; d >= 0; --d) {
    off += (i % v->sizes[d]) * v->strides[d];
    i /= v->sizes[d];
  }
  return off;
}

static double load(const trt_tensor_view* v, int64_t off) {
  return v->dtype == TRT_FLOAT64 ? ((const double*)v->data)[off] : ((const float*)v->data)[off];
}

static void store(const trt_tensor_view* v, int64_t off, double x) {
  if (v->dtype == TRT_FLOAT64) ((double*)v->data)[off] = x;
  else ((float*)v->data)[off] = (float)x;
}

static double ipow(double x, int64_t p) {
  double r = 1;
  for (int64_t i = 0; i < p; ++i) r *= x;
  return r;
}

static trt_status fail(char* error, size_t cap, const char* message) {
  snprintf(error, cap, "%s", message);
  return TRT_ERR_INVALID_ARGUMENT;
}

/* ---- scale_square: y = scale * x^power; stat = mean of y over the last dim ---- */

static const trt_layer_attr kScaleSquareAttrs[] = {
    {"scale", TRT_ATTR_FLOAT, 0, 1.5},
    {"power", TRT_ATTR_INT, 1, 2}, /* required; 2 is the example value check-plugin uses */
};

static trt_status scale_square_infer(const trt_tensor_view* in, int32_t n_in, const trt_layer_attrs* attrs,
                                     trt_tensor_view* out, int32_t n_out, char* error, size_t cap) {
  (void)n_in;
  (void)n_out;
  if (in[0].dtype != TRT_FLOAT32 && in[0].dtype != TRT_FLOAT64) return fail(error, cap, "x must be float32 or float64");
  if (in[0].ndim < 1) return fail(error, cap, "x needs at least one dim");
  if (attrs->n_ints < 1 || attrs->ints[0] < 1) return fail(error, cap, "power must be at least 1");
  out[0].ndim = in[0].ndim;
  for (int d = 0; d < in[0].ndim; ++d) out[0].sizes[d] = in[0].sizes[d];
  out[1].ndim = in[0].ndim - 1;
  for (int d = 0; d + 1 < in[0].ndim; ++d) out[1].sizes[d] = in[0].sizes[d];
  return TRT_OK;
}

/* inputs: x; outputs: y (contiguous), stat (contiguous). */
static trt_status scale_square_forward(const trt_kernel_args* a, int strided) {
  const trt_tensor_view* x = &a->inputs[0];
  double scale = a->float_attrs[0];
  int64_t power = a->int_attrs[0];
  int64_t n = numel_of(x), last = x->sizes[x->ndim - 1];
  for (int64_t i = 0; i < n; ++i) store(&a->outputs[0], i, scale * ipow(load(x, offset_of(x, i, strided)), power));
  for (int64_t r = 0; r < n / last; ++r) {
    double s = 0;
    for (int64_t j = 0; j < last; ++j) s += load(&a->outputs[0], r * last + j);
    store(&a->outputs[1], r, s / (double)last);
  }
  return TRT_OK;
}

/* inputs: x, y, stat, grad_y, grad_stat (zeros: stat is non-differentiable);
 * outputs: grad_x. forward: y = scale * x^p  =>  dx = dy * scale * p * x^(p-1). */
static trt_status scale_square_backward(const trt_kernel_args* a, int strided, double factor) {
  const trt_tensor_view* x = &a->inputs[0];
  const trt_tensor_view* gy = &a->inputs[3];
  double scale = a->float_attrs[0];
  int64_t power = a->int_attrs[0];
  int64_t n = numel_of(x);
  for (int64_t i = 0; i < n; ++i) {
    double xv = load(x, offset_of(x, i, strided));
    double g = load(gy, offset_of(gy, i, strided));
    store(&a->outputs[0], i, factor * g * scale * (double)power * ipow(xv, power - 1));
  }
  return TRT_OK;
}

static trt_status scale_square_example(int32_t index, const trt_layer_attrs* attrs, int64_t* sizes, int32_t* ndim,
                                       char* error, size_t cap) {
  (void)index;
  (void)attrs;
  (void)error;
  (void)cap;
  *ndim = 2;
  sizes[0] = 3;
  sizes[1] = 5;
  return TRT_OK;
}

/* One forward/backward pair per variant: (strided kernels, gradient factor). */
#define SCALE_SQUARE_VARIANT(tag, STRIDED, FACTOR)                                                      \
  static trt_status tag##_forward(const trt_kernel_args* a) { return scale_square_forward(a, STRIDED); } \
  static trt_status tag##_backward(const trt_kernel_args* a) { return scale_square_backward(a, STRIDED, FACTOR); }

static trt_layer_def scale_square_def(const char* name, uint32_t flags, trt_kernel_fn forward, trt_kernel_fn backward) {
  trt_layer_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = name;
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 1;
  d.forward = forward;
  d.backward = backward;
  d.n_outputs = 2;
  d.flags = flags;
  d.nondifferentiable_outputs = 1u << 1;
  d.attrs = kScaleSquareAttrs;
  d.n_attrs = 2;
  d.infer_outputs = scale_square_infer;
  return d;
}

#ifndef TEST_BAD_LAYERS
/* ---- affine: y = x * weight + bias over features; float32 only ---- */

static const trt_layer_attr kAffineAttrs[] = {
    {"features", TRT_ATTR_INT, 1, 6}, /* required; 6 is the example value */
};

static trt_status affine_infer(const trt_tensor_view* in, int32_t n_in, const trt_layer_attrs* attrs,
                               trt_tensor_view* out, int32_t n_out, char* error, size_t cap) {
  (void)n_in;
  (void)n_out;
  int64_t f = attrs->ints[0];
  for (int k = 0; k < 3; ++k)
    if (in[k].dtype != TRT_FLOAT32) return fail(error, cap, "affine supports float32 only");
  if (in[0].ndim != 2 || in[0].sizes[1] != f) return fail(error, cap, "x must be (N, features)");
  if (in[1].ndim != 1 || in[1].sizes[0] != f || in[2].ndim != 1 || in[2].sizes[0] != f)
    return fail(error, cap, "weight and bias must be (features)");
  out[0].ndim = 2;
  out[0].sizes[0] = in[0].sizes[0];
  out[0].sizes[1] = f;
  return TRT_OK;
}

/* inputs: x (N, F), weight (F), bias (F), all contiguous (the host copies). */
static trt_status affine_forward(const trt_kernel_args* a) {
  const float* x = (const float*)a->inputs[0].data;
  const float* w = (const float*)a->inputs[1].data;
  const float* b = (const float*)a->inputs[2].data;
  float* y = (float*)a->outputs[0].data;
  int64_t n = a->inputs[0].sizes[0], f = a->inputs[0].sizes[1];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) y[i * f + j] = x[i * f + j] * w[j] + b[j];
  return TRT_OK;
}

/* inputs: x, weight, bias, y, grad_y; outputs: grad_x, grad_weight, grad_bias (zeroed).
 * forward: y = x * w + b  =>  dx = dy * w, dw = sum_n dy * x, db = sum_n dy. */
static trt_status affine_backward(const trt_kernel_args* a) {
  const float* x = (const float*)a->inputs[0].data;
  const float* w = (const float*)a->inputs[1].data;
  const float* gy = (const float*)a->inputs[4].data;
  float* gx = (float*)a->outputs[0].data;
  float* gw = (float*)a->outputs[1].data;
  float* gb = (float*)a->outputs[2].data;
  int64_t n = a->inputs[0].sizes[0], f = a->inputs[0].sizes[1];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      gx[i * f + j] = gy[i * f + j] * w[j];
      gw[j] += gy[i * f + j] * x[i * f + j];
      gb[j] += gy[i * f + j];
    }
  return TRT_OK;
}

static trt_status affine_param(int32_t index, const trt_layer_attrs* attrs, trt_layer_param* p, char* error,
                               size_t cap) {
  if (index < 0 || index > 1) return fail(error, cap, "affine has two parameters");
  p->name = index == 0 ? "weight" : "bias";
  p->ndim = 1;
  p->sizes[0] = attrs->ints[0];
  p->init = index == 0 ? TRT_INIT_ONES : TRT_INIT_ZEROS;
  return TRT_OK;
}

static trt_status affine_example(int32_t index, const trt_layer_attrs* attrs, int64_t* sizes, int32_t* ndim,
                                 char* error, size_t cap) {
  if (index != 0) return fail(error, cap, "affine has one data input");
  *ndim = 2;
  sizes[0] = 5;
  sizes[1] = attrs->ints[0];
  return TRT_OK;
}

static trt_layer_def affine_def(void) {
  trt_layer_def d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.abi_version = TRT_PLUGIN_ABI_VERSION;
  d.name = "affine";
  d.device_type = TRT_DEVICE_CPU;
  d.n_inputs = 3;
  d.forward = affine_forward;
  d.backward = affine_backward;
  d.attrs = kAffineAttrs;
  d.n_attrs = 1;
  d.infer_outputs = affine_infer;
  d.n_params = 2;
  d.param = affine_param;
  d.example_input = affine_example;
  return d;
}
#endif

/* ---- registration ---- */

#ifndef TEST_BAD_LAYERS
SCALE_SQUARE_VARIANT(plain, 0, 1.0)
SCALE_SQUARE_VARIANT(strided, 1, 1.0)

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error;
  (void)cap;
  info->name = "test-layers";
  info->version = "1.0.0";
  info->description = "correct layers for the gradient checker's tests";
  trt_layer_def defs[3];
  defs[0] = scale_square_def("scale_square", 0, plain_forward, plain_backward);
  defs[1] = scale_square_def("scale_square_strided", TRT_LAYER_STRIDED_INPUTS, strided_forward, strided_backward);
  defs[1].example_input = scale_square_example;
  defs[2] = affine_def();
  for (int i = 0; i < 3; ++i) {
    trt_status s = host->register_layer(host->host, &defs[i]);
    if (s != TRT_OK) return s;
  }
  return TRT_OK;
}
#else
SCALE_SQUARE_VARIANT(twice, 0, 2.0)
SCALE_SQUARE_VARIANT(ignoring, 0, 1.0)
SCALE_SQUARE_VARIANT(fine, 1, 1.0)

static trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t cap) {
  (void)error;
  (void)cap;
  info->name = "test-layers-bad";
  info->version = "1.0.0";
  info->description = "a wrong backward and a kernel that ignores strides, for check-plugin's tests";
  trt_layer_def defs[3];
  defs[0] = scale_square_def("twice_grad", 0, twice_forward, twice_backward);
  /* Claims TRT_LAYER_STRIDED_INPUTS but its kernels read views as contiguous. */
  defs[1] = scale_square_def("ignores_strides", TRT_LAYER_STRIDED_INPUTS, ignoring_forward, ignoring_backward);
  defs[1].example_input = scale_square_example;
  defs[2] = scale_square_def("fine_too", TRT_LAYER_STRIDED_INPUTS, fine_forward, fine_backward);
  for (int i = 0; i < 3; ++i) {
    trt_status s = host->register_layer(host->host, &defs[i]);
    if (s != TRT_OK) return s;
  }
  return TRT_OK;
}
#endif

TRT_PLUGIN_EXPORT(init)
