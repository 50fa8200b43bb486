// swish: y = x * sigmoid(beta * x), a one-output layer with one float
// attribute, beta (default 1). The shape rule, the CPU kernels (float32 and
// float64) and the definition; swish.cu mirrors the kernels for CUDA.
// Inputs are contiguous: the layer does not set TRT_LAYER_STRIDED_INPUTS, so
// the host copies strided inputs before calling (and outputs always are).
#include <cmath>

#include <trainrt/plugin_sdk.h>

#include "layers.h"

namespace {

// Declared attributes, in order: kernels get beta in float_attrs[0].
const trt_layer_attr kAttrs[] = {{"beta", TRT_ATTR_FLOAT, 0, 1.0}};

// x: (*) -> y: (*), same dtype. attrs: the float attributes ([beta]).
trt_status infer(const trt_tensor_view* in, int32_t n_in, const double*, int32_t, int64_t* out_sizes,
                 int32_t* out_ndim, int32_t* out_dtype, char* error, size_t cap) {
  if (n_in != 1) return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "swish: expects 1 input, got %d", n_in);
  if (in[0].dtype != TRT_FLOAT32 && in[0].dtype != TRT_FLOAT64)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "swish: expects float32 or float64, got %s",
                         trt_sdk::dtype_name(in[0].dtype));
  *out_ndim = in[0].ndim;
  for (int i = 0; i < in[0].ndim; ++i) out_sizes[i] = in[0].sizes[i];
  *out_dtype = in[0].dtype;
  return TRT_OK;
}

constexpr int64_t kGrain = 1 << 15;  // elements per thread at least

// forward: y = x * s, s = sigmoid(beta x)
template <class T>
trt_status forward_cpu(const trt_kernel_args* a) {
  const T* x = trt_sdk::data<const T>(a->inputs[0]);
  T* y = trt_sdk::data<T>(a->outputs[0]);
  const double beta = a->float_attrs[0];
  return trt_sdk::parallel_for(a, trt_sdk::numel(a->inputs[0]), kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = T(x[i] / (1.0 + std::exp(-beta * x[i])));
  });
}

// inputs [x, y, dy] -> outputs [dx]:  dx = dy * (s + beta x s (1 - s))
template <class T>
trt_status backward_cpu(const trt_kernel_args* a) {
  const T* x = trt_sdk::data<const T>(a->inputs[0]);
  const T* dy = trt_sdk::data<const T>(a->inputs[2]);
  T* dx = trt_sdk::data<T>(a->outputs[0]);
  const double beta = a->float_attrs[0];
  return trt_sdk::parallel_for(a, trt_sdk::numel(a->inputs[0]), kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double s = 1.0 / (1.0 + std::exp(-beta * x[i]));
      dx[i] = T(dy[i] * (s + beta * x[i] * s * (1 - s)));
    }
  });
}

trt_status forward(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "swish", 1, 0)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? forward_cpu<double>(a) : forward_cpu<float>(a);
}

trt_status backward(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "swish", 1, 0)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? backward_cpu<double>(a) : backward_cpu<float>(a);
}

}  // namespace

trt_layer_def swish_layer(trt_device_type device) {
  trt_layer_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "swish";
  def.device_type = device;
  def.n_inputs = 1;
  def.infer = infer;
  def.forward = forward;
  def.backward = backward;
#if TRT_PLUGIN_WITH_CUDA
  if (device == TRT_DEVICE_CUDA) {
    def.forward = swish_forward_cuda;
    def.backward = swish_backward_cuda;
  }
#endif
  def.attrs = kAttrs;
  def.n_attrs = 1;
  return def;
}
