// Softmax family, negative log-likelihood and the dropout mask. Softmax kernels
// normalise along one dim of any-strided operands (along_dim.h), accumulating in
// double; the per-element backward formulas live in trainrt/kernel_math.h.
// Not here: class weights, ignore_index, label smoothing.
#include <cinttypes>
#include <cmath>

#include "along_dim.h"
#include "kernel_util.h"
#include "kernels.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
namespace {

enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

// log_softmax / softmax: inputs [x], outputs [y] (x's shape), int_attrs [dim].
// Stable: y = x - max - log(sum(exp(x - max))).
template <typename T, bool Log> void softmax_into(const trt_tensor_view& x, const trt_tensor_view& y, int dim) {
  const T* in = data<T>(x);
  T* out = data<T>(y);
  int64_t len = length_along(x, dim), sx = stride_along(x, dim), sy = stride_along(y, dim);
  along_dim<2>({&x, &y}, dim, [&](auto off) {
    const T* p = in + off[0];
    T* q = out + off[1];
    double m = -INFINITY;
    for (int64_t i = 0; i < len; ++i) m = std::fmax(m, static_cast<double>(p[i * sx]));
    double s = 0;
    for (int64_t i = 0; i < len; ++i) s += std::exp(static_cast<double>(p[i * sx]) - m);
    if (Log) {
      double shift = m + std::log(s);
      for (int64_t i = 0; i < len; ++i) q[i * sy] = static_cast<T>(static_cast<double>(p[i * sx]) - shift);
    } else {
      for (int64_t i = 0; i < len; ++i) q[i * sy] = static_cast<T>(std::exp(static_cast<double>(p[i * sx]) - m) / s);
    }
  });
}

trt_status log_softmax_kernel(const trt_kernel_args* a) {
  int dim = static_cast<int>(a->int_attrs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, (softmax_into<scalar_t, true>(a->inputs[0], a->outputs[0], dim)));
  return TRT_OK;
}

trt_status softmax_kernel(const trt_kernel_args* a) {
  int dim = static_cast<int>(a->int_attrs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, (softmax_into<scalar_t, false>(a->inputs[0], a->outputs[0], dim)));
  return TRT_OK;
}

// log_softmax_backward / softmax_backward: inputs [dy, y], outputs [dx], int_attrs [dim].
//   log_softmax: dx = dy - exp(y) * sum(dy)        softmax: dx = y * (dy - sum(dy * y))
template <typename T, bool Log>
void softmax_backward_into(const trt_tensor_view& dy, const trt_tensor_view& y, const trt_tensor_view& dx, int dim) {
  const T* g = data<T>(dy);
  const T* yp = data<T>(y);
  T* out = data<T>(dx);
  int64_t len = length_along(dx, dim), sg = stride_along(dy, dim), sy = stride_along(y, dim),
          sd = stride_along(dx, dim);
  along_dim<3>({&dx, &dy, &y}, dim, [&](auto off) {
    const T* gp = g + off[1];
    const T* ys = yp + off[2];
    T* d = out + off[0];
    double s = 0;
    for (int64_t i = 0; i < len; ++i)
      s += Log ? static_cast<double>(gp[i * sg]) : static_cast<double>(gp[i * sg]) * static_cast<double>(ys[i * sy]);
    for (int64_t i = 0; i < len; ++i)
      d[i * sd] = Log ? trainrt::math::log_softmax_backward(gp[i * sg], ys[i * sy], static_cast<T>(s))
                      : trainrt::math::softmax_backward(gp[i * sg], ys[i * sy], static_cast<T>(s));
  });
}

trt_status log_softmax_backward_kernel(const trt_kernel_args* a) {
  int dim = static_cast<int>(a->int_attrs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         (softmax_backward_into<scalar_t, true>(a->inputs[0], a->inputs[1], a->outputs[0], dim)));
  return TRT_OK;
}

trt_status softmax_backward_kernel(const trt_kernel_args* a) {
  int dim = static_cast<int>(a->int_attrs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         (softmax_backward_into<scalar_t, false>(a->inputs[0], a->inputs[1], a->outputs[0], dim)));
  return TRT_OK;
}

// Finds the first label outside [0, C); returns its index or -1.
int64_t bad_label(const trt_tensor_view& target, int64_t classes) {
  const int64_t* t = data<int64_t>(target);
  for (int64_t i = 0; i < target.sizes[0]; ++i) {
    int64_t label = t[i * target.strides[0]];
    if (label < 0 || label >= classes) return i;
  }
  return -1;
}

trt_status label_error(const trt_kernel_args* a, const trt_tensor_view& target, int64_t i, int64_t classes) {
  int64_t label = data<int64_t>(target)[i * target.strides[0]];
  return fail(a, TRT_ERR_INVALID_ARGUMENT, "nll_loss: label %" PRId64 " at index %" PRId64 " out of range [0, %" PRId64 ")",
              label, i, classes);
}

// nll_loss: inputs [logp (N, C), target int64 (N)], outputs [loss: (N) for none,
// () for mean/sum], int_attrs [reduction 0=none, 1=mean, 2=sum].
//   loss_i = -logp[i, target_i];  mean = sum_i loss_i / N
template <typename T> void nll_into(const trt_tensor_view& logp, const trt_tensor_view& target,
                                    const trt_tensor_view& loss, int64_t reduction) {
  const T* lp = data<T>(logp);
  const int64_t* t = data<int64_t>(target);
  T* out = data<T>(loss);
  int64_t n = logp.sizes[0];
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double li = -static_cast<double>(lp[i * logp.strides[0] + t[i * target.strides[0]] * logp.strides[1]]);
    if (reduction == kNone) out[i * loss.strides[0]] = static_cast<T>(li);
    else total += li;
  }
  if (reduction == kMean) out[0] = static_cast<T>(total / static_cast<double>(n));  // N = 0 gives NaN, as PyTorch
  if (reduction == kSum) out[0] = static_cast<T>(total);
}

trt_status nll_loss_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& logp = a->inputs[0];
  const trt_tensor_view& target = a->inputs[1];
  int64_t reduction = a->int_attrs[0];
  if (int64_t i = bad_label(target, logp.sizes[1]); i >= 0) return label_error(a, target, i, logp.sizes[1]);
  TRT_CPU_DISPATCH_FLOAT(a, logp.dtype, nll_into<scalar_t>(logp, target, a->outputs[0], reduction));
  return TRT_OK;
}

// nll_loss_backward: inputs [dy ((N) or ()), target int64 (N)], outputs [dlogp (N, C)],
// int_attrs [reduction]. forward: loss_i = -logp[i, t_i]  =>  dlogp[i, t_i] = -dy_i
// (mean: -dy / N, sum: -dy), every other entry 0.
template <typename T> void nll_backward_into(const trt_tensor_view& dy, const trt_tensor_view& target,
                                             const trt_tensor_view& dx, int64_t reduction) {
  T* out = data<T>(dx);
  zero_fill<T>(dx);
  const T* g = data<T>(dy);
  const int64_t* t = data<int64_t>(target);
  int64_t n = dx.sizes[0];
  T scale = reduction == kMean ? T(1) / static_cast<T>(n) : T(1);
  for (int64_t i = 0; i < n; ++i) {
    T gi = reduction == kNone ? g[i * dy.strides[0]] : g[0] * scale;
    out[i * dx.strides[0] + t[i * target.strides[0]] * dx.strides[1]] = -gi;
  }
}

trt_status nll_loss_backward_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& target = a->inputs[1];
  const trt_tensor_view& dx = a->outputs[0];
  if (int64_t i = bad_label(target, dx.sizes[1]); i >= 0) return label_error(a, target, i, dx.sizes[1]);
  TRT_CPU_DISPATCH_FLOAT(a, dx.dtype, nll_backward_into<scalar_t>(a->inputs[0], target, dx, a->int_attrs[0]));
  return TRT_OK;
}

// dropout_mask: outputs [mask] (floating), int_attrs [seed, offset], float_attrs [p].
// Element i (row-major) draws u = uniform01(seed, offset + i); mask = (u >= p) / (1 - p).
trt_status dropout_mask_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& mask = a->outputs[0];
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  double p = a->float_attrs[0];
  if (!(p >= 0 && p <= 1)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "dropout_mask: p must be in [0, 1], got %g", p);
  TRT_CPU_DISPATCH_FLOAT(a, mask.dtype, {
    scalar_t* m = data<scalar_t>(mask);
    uint64_t i = offset;
    strided_rows<1>(mask, {&mask}, [&](auto off, int64_t n, auto st) {
      for (int64_t j = 0; j < n; ++j, ++i)
        m[off[0] + j * st[0]] = static_cast<scalar_t>(trainrt::math::dropout_mask(trainrt::math::uniform01(seed, i), p));
    });
  });
  return TRT_OK;
}

}  // namespace

bool register_loss(const trt_host_api* host) {
  struct {
    const char* op;
    trt_kernel_fn fn;
  } table[] = {{"log_softmax", log_softmax_kernel},
               {"log_softmax_backward", log_softmax_backward_kernel},
               {"softmax", softmax_kernel},
               {"softmax_backward", softmax_backward_kernel},
               {"nll_loss", nll_loss_kernel},
               {"nll_loss_backward", nll_loss_backward_kernel},
               {"dropout_mask", dropout_mask_kernel}};
  for (const auto& k : table)
    if (!add_kernel(host, k.op, k.fn)) return false;
  return true;
}

}  // namespace trt_cpu
