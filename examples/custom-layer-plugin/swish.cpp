// layer-swish: a user-written differentiable layer delivered as a plugin.
// y = x * sigmoid(beta * x); beta is the layer's first attribute (default 1).
// Only <trainrt/plugin_abi.h> is needed; nothing here links libtrainrt.
#include <cmath>
#include <cstdio>

#include <trainrt/plugin_abi.h>

namespace {

int64_t numel(const trt_tensor_view& v) {
  int64_t n = 1;
  for (int i = 0; i < v.ndim; ++i) n *= v.sizes[i];
  return n;
}

double beta_of(const trt_kernel_args* a) { return a->n_float_attrs > 0 ? a->float_attrs[0] : 1.0; }

trt_status infer(const trt_tensor_view* in, int32_t n_in, const double*, int32_t, int64_t* out_sizes,
                 int32_t* out_ndim, int32_t* out_dtype, char* error, size_t cap) {
  if (n_in != 1 || in[0].dtype != TRT_FLOAT32) {
    std::snprintf(error, cap, "swish: expects one float32 tensor");
    return TRT_ERR_INVALID_ARGUMENT;
  }
  *out_ndim = in[0].ndim;
  for (int i = 0; i < in[0].ndim; ++i) out_sizes[i] = in[0].sizes[i];
  *out_dtype = TRT_FLOAT32;
  return TRT_OK;
}

// Inputs arrive contiguous (the host guarantees it for layers).
// forward: y = x * s, s = sigmoid(beta x)
trt_status forward(const trt_kernel_args* a) {
  const float* x = static_cast<const float*>(a->inputs[0].data);
  float* y = static_cast<float*>(a->outputs[0].data);
  double beta = beta_of(a);
  for (int64_t i = 0, n = numel(a->inputs[0]); i < n; ++i) y[i] = float(x[i] / (1.0 + std::exp(-beta * x[i])));
  return TRT_OK;
}

// inputs [x, y, dy] -> outputs [dx]:  dx = dy * (s + beta x s (1 - s))
trt_status backward(const trt_kernel_args* a) {
  const float* x = static_cast<const float*>(a->inputs[0].data);
  const float* dy = static_cast<const float*>(a->inputs[2].data);
  float* dx = static_cast<float*>(a->outputs[0].data);
  double beta = beta_of(a);
  for (int64_t i = 0, n = numel(a->inputs[0]); i < n; ++i) {
    double s = 1.0 / (1.0 + std::exp(-beta * x[i]));
    dx[i] = float(dy[i] * (s + beta * x[i] * s * (1 - s)));
  }
  return TRT_OK;
}

trt_status init(const trt_host_api* host, trt_plugin_info* info, char*, size_t) {
  info->name = "layer-swish";
  info->version = "1.0.0";
  info->description = "Swish activation, an example out-of-tree layer";
  trt_layer_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "swish";
  def.device_type = TRT_DEVICE_CPU;
  def.n_inputs = 1;
  def.infer = infer;
  def.forward = forward;
  def.backward = backward;
  return host->register_layer(host->host, &def);
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
