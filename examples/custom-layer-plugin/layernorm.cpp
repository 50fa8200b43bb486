// layernorm: LayerNorm over the last dimension, a layer with parameters,
// attributes and three outputs. x: (*, F), gamma: (F), beta: (F) ->
//   y: (*, F) = (x - mean) * rstd * gamma + beta,
//   mean: (*) and rstd: (*) = 1 / sqrt(var + eps), per row (biased variance).
// mean and rstd are non-differentiable outputs saved for backward, as PyTorch's
// native_layer_norm does. Attributes: features (int, required), eps (float,
// default 1e-5). gamma and beta are parameters (ones, zeros) that
// nn.PluginLayer("layernorm") creates from param(). CPU kernels for float32 and
// float64, split over rows with trt_sdk::parallel_for; layernorm.cu mirrors them.
#include <algorithm>
#include <cmath>
#include <vector>

#include <trainrt/plugin_sdk.h>

#include "layers.h"

namespace {

// Declared attributes. Kernels get them per kind in this order:
// int_attrs = [features], float_attrs = [eps]. A script must give features;
// its default_value (8) is only the example `trainrt check-plugin` uses.
const trt_layer_attr kAttrs[] = {
    {"features", TRT_ATTR_INT, 1, 8.0},
    {"eps", TRT_ATTR_FLOAT, 0, 1e-5},
};

bool floating(int32_t dtype) { return dtype == TRT_FLOAT32 || dtype == TRT_FLOAT64; }

// inputs [x (*, F), gamma (F), beta (F)] -> outputs [y (*, F), mean (*), rstd (*)]
trt_status infer_outputs(const trt_tensor_view* in, int32_t n_in, const trt_layer_attrs* attrs,
                         trt_tensor_view* out, int32_t n_out, char* error, size_t cap) {
  if (n_in != 3 || n_out != 3)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: expects 3 inputs and 3 outputs, got %d and %d",
                         n_in, n_out);
  const int64_t features = attrs->ints[0];
  if (features < 1)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: features must be at least 1, got %lld",
                         (long long)features);
  const trt_tensor_view& x = in[0];
  if (x.ndim < 1 || x.sizes[x.ndim - 1] != features)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT,
                         "layernorm: x must be (*, features=%lld), got %d dims with last size %lld",
                         (long long)features, x.ndim, (long long)(x.ndim ? x.sizes[x.ndim - 1] : 0));
  for (int i = 1; i < 3; ++i) {
    if (in[i].ndim != 1 || in[i].sizes[0] != features)
      return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: %s must be (%lld)",
                           i == 1 ? "gamma" : "beta", (long long)features);
  }
  if (!floating(x.dtype) || in[1].dtype != x.dtype || in[2].dtype != x.dtype)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT,
                         "layernorm: x, gamma and beta must share one dtype, float32 or float64; got %s, %s, %s",
                         trt_sdk::dtype_name(x.dtype), trt_sdk::dtype_name(in[1].dtype),
                         trt_sdk::dtype_name(in[2].dtype));
  out[0].ndim = x.ndim;
  for (int d = 0; d < x.ndim; ++d) out[0].sizes[d] = x.sizes[d];
  for (int k = 1; k < 3; ++k) {  // one statistic per row: x's sizes without the last
    out[k].ndim = x.ndim - 1;
    for (int d = 0; d < x.ndim - 1; ++d) out[k].sizes[d] = x.sizes[d];
  }
  for (int k = 0; k < 3; ++k) out[k].dtype = x.dtype;
  return TRT_OK;
}

// Parameter 0 is gamma (ones), 1 is beta (zeros), both (features).
trt_status param(int32_t index, const trt_layer_attrs* attrs, trt_layer_param* p, char* error, size_t cap) {
  const int64_t features = attrs->ints[0];
  if (features < 1)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: features must be at least 1, got %lld",
                         (long long)features);
  if (index < 0 || index > 1)
    return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: no parameter %d", index);
  p->name = index == 0 ? "gamma" : "beta";
  p->ndim = 1;
  p->sizes[0] = features;
  p->init = index == 0 ? TRT_INIT_ONES : TRT_INIT_ZEROS;
  return TRT_OK;
}

// What `trainrt check-plugin` feeds it: x (5, features).
trt_status example_input(int32_t index, const trt_layer_attrs* attrs, int64_t* sizes, int32_t* ndim, char* error,
                         size_t cap) {
  if (index != 0) return trt_sdk::fail(error, cap, TRT_ERR_INVALID_ARGUMENT, "layernorm: x is its only input");
  *ndim = 2;
  sizes[0] = 5;
  sizes[1] = attrs->ints[0];
  return TRT_OK;
}

// Rows per thread at least: about 16K elements.
int64_t row_grain(int64_t features) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, features)); }

template <class T>
trt_status forward_cpu(const trt_kernel_args* a) {
  const int64_t F = a->int_attrs[0];
  const double eps = a->float_attrs[0];
  const T* x = trt_sdk::data<const T>(a->inputs[0]);
  const T* gamma = trt_sdk::data<const T>(a->inputs[1]);
  const T* beta = trt_sdk::data<const T>(a->inputs[2]);
  T* y = trt_sdk::data<T>(a->outputs[0]);
  T* mean = trt_sdk::data<T>(a->outputs[1]);
  T* rstd = trt_sdk::data<T>(a->outputs[2]);
  const int64_t rows = trt_sdk::numel(a->inputs[0]) / F;
  return trt_sdk::parallel_for(a, rows, row_grain(F), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * F;
      double m = 0, v = 0;
      for (int64_t f = 0; f < F; ++f) m += xr[f];
      m /= double(F);
      for (int64_t f = 0; f < F; ++f) v += (xr[f] - m) * (xr[f] - m);
      double s = 1.0 / std::sqrt(v / double(F) + eps);
      for (int64_t f = 0; f < F; ++f) y[r * F + f] = T((xr[f] - m) * s * gamma[f] + beta[f]);
      mean[r] = T(m);
      rstd[r] = T(s);
    }
  });
}

// inputs [x, gamma, beta, y, mean, rstd, dy, dmean, drstd] -> outputs [dx, dgamma, dbeta].
// dmean and drstd are zeros (non-differentiable outputs) and unused. With
// xhat = (x - mean) * rstd and g = dy * gamma, per row:
//   forward: y = xhat * gamma + beta  =>  dx = rstd * (g - mean_f(g) - xhat * mean_f(g * xhat))
//   dgamma = sum over rows of dy * xhat,  dbeta = sum over rows of dy
template <class T>
trt_status backward_cpu(const trt_kernel_args* a) {
  const int64_t F = a->int_attrs[0];
  const T* x = trt_sdk::data<const T>(a->inputs[0]);
  const T* gamma = trt_sdk::data<const T>(a->inputs[1]);
  const T* mean = trt_sdk::data<const T>(a->inputs[4]);
  const T* rstd = trt_sdk::data<const T>(a->inputs[5]);
  const T* dy = trt_sdk::data<const T>(a->inputs[6]);
  T* dx = trt_sdk::data<T>(a->outputs[0]);
  T* dgamma = trt_sdk::data<T>(a->outputs[1]);
  T* dbeta = trt_sdk::data<T>(a->outputs[2]);
  const int64_t rows = trt_sdk::numel(a->inputs[0]) / F;

  trt_status status = trt_sdk::parallel_for(a, rows, row_grain(F), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T *xr = x + r * F, *dyr = dy + r * F;
      const double m = mean[r], s = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (int64_t f = 0; f < F; ++f) {
        double g = double(dyr[f]) * gamma[f];
        sum_g += g;
        sum_gx += g * (xr[f] - m) * s;
      }
      sum_g /= double(F);
      sum_gx /= double(F);
      for (int64_t f = 0; f < F; ++f) {
        double g = double(dyr[f]) * gamma[f];
        dx[r * F + f] = T(s * (g - sum_g - (xr[f] - m) * s * sum_gx));
      }
    }
  });
  if (status != TRT_OK) return status;

  // Sums over rows, split over features so that each sum has one owner and
  // the result does not depend on the thread count.
  const int64_t column_grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, rows));
  return trt_sdk::parallel_for(a, F, column_grain, [&](int64_t begin, int64_t end) {
    std::vector<double> sum_dyx(size_t(end - begin), 0.0), sum_dy(size_t(end - begin), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double m = mean[r], s = rstd[r];
      for (int64_t f = begin; f < end; ++f) {
        double d = dy[r * F + f];
        sum_dyx[size_t(f - begin)] += d * (x[r * F + f] - m) * s;
        sum_dy[size_t(f - begin)] += d;
      }
    }
    for (int64_t f = begin; f < end; ++f) {
      dgamma[f] = T(sum_dyx[size_t(f - begin)]);
      dbeta[f] = T(sum_dy[size_t(f - begin)]);
    }
  });
}

trt_status forward(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "layernorm", 1, 1)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? forward_cpu<double>(a) : forward_cpu<float>(a);
}

trt_status backward(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "layernorm", 1, 1)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? backward_cpu<double>(a) : backward_cpu<float>(a);
}

}  // namespace

trt_layer_def layernorm_layer(trt_device_type device) {
  trt_layer_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "layernorm";
  def.device_type = device;
  def.n_inputs = 3;  // x, then the parameters gamma and beta
  def.forward = forward;
  def.backward = backward;
#if TRT_PLUGIN_WITH_CUDA
  if (device == TRT_DEVICE_CUDA) {
    def.forward = layernorm_forward_cuda;
    def.backward = layernorm_backward_cuda;
  }
#endif
  def.n_outputs = 3;
  def.nondifferentiable_outputs = 0b110;  // mean and rstd
  def.attrs = kAttrs;
  def.n_attrs = 2;
  def.infer_outputs = infer_outputs;
  def.n_params = 2;
  def.param = param;
  def.example_input = example_input;
  return def;
}
