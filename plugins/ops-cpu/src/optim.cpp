// Fused in-place optimizer updates: one pass over a parameter, its gradient and
// its state. The per-element formulas (torch.optim SGD, Adam, AdamW) live in
// trainrt/kernel_math.h so the CUDA plugin applies exactly the same update.
// Operands are contiguous (the runtime checks); the state tensors are outputs
// because they are written in place.
#include <algorithm>
#include <vector>

#include "kernel_util.h"
#include "kernels.h"
#include "simd_loops.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
namespace {

bool all_contiguous(const trt_kernel_args* a) {
  for (int i = 0; i < a->n_inputs; ++i)
    if (!is_contiguous(a->inputs[i])) return false;
  for (int i = 0; i < a->n_outputs; ++i)
    if (!is_contiguous(a->outputs[i])) return false;
  return true;
}

// sgd_step: inputs [grad], outputs [param] or [param, momentum_buf] (momentum != 0),
// int_attrs [nesterov, first_step], float_attrs [lr, momentum, dampening, weight_decay].
template <typename T> void sgd_into(const trt_kernel_args* a) {
  const T* g = data<T>(a->inputs[0]);
  T* p = data<T>(a->outputs[0]);
  T* buf = a->n_outputs > 1 ? data<T>(a->outputs[1]) : nullptr;
  T lr = static_cast<T>(a->float_attrs[0]), momentum = static_cast<T>(a->float_attrs[1]),
    dampening = static_cast<T>(a->float_attrs[2]), wd = static_cast<T>(a->float_attrs[3]);
  bool nesterov = a->int_attrs[0] != 0, first_step = a->int_attrs[1] != 0;
  parallel_for(numel(a->outputs[0]), a->num_threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      trainrt::math::sgd_update(p[i], g[i], buf ? buf + i : nullptr, lr, momentum, dampening, wd, nesterov, first_step);
  }, kParallelMinElements / 2);
}

trt_status sgd_step_kernel(const trt_kernel_args* a) {
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "sgd_step: operands must be contiguous");
  if (a->float_attrs[1] != 0 && a->n_outputs < 2)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "sgd_step: momentum %g needs a momentum buffer output", a->float_attrs[1]);
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, sgd_into<scalar_t>(a));
  return TRT_OK;
}

// adam_step: inputs [grad], outputs [param, exp_avg, exp_avg_sq], int_attrs [decoupled],
// float_attrs [lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2].
// The element loop is simd::adam (vectorised; bitwise trainrt::math::adam_update).
template <typename T> simd::AdamScalars<T> adam_scalars(const trt_kernel_args* a) {
  const double* f = a->float_attrs;
  return {static_cast<T>(f[0]), static_cast<T>(f[1]), static_cast<T>(f[2]), static_cast<T>(f[3]),
          static_cast<T>(f[4]), static_cast<T>(f[5]), static_cast<T>(f[6]), a->int_attrs[0] != 0};
}

template <typename T> void adam_into(const trt_kernel_args* a) {
  const T* g = data<T>(a->inputs[0]);
  T* p = data<T>(a->outputs[0]);
  T* m = data<T>(a->outputs[1]);
  T* v = data<T>(a->outputs[2]);
  const simd::AdamScalars<T> s = adam_scalars<T>(a);
  parallel_for(numel(a->outputs[0]), a->num_threads, [&](int64_t begin, int64_t end) {
    simd::adam(p + begin, g + begin, m + begin, v + begin, end - begin, s);
  }, kParallelMinElements / 2);
}

trt_status adam_step_kernel(const trt_kernel_args* a) {
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "adam_step: operands must be contiguous");
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, adam_into<scalar_t>(a));
  return TRT_OK;
}

// adam_multi: inputs [g_1..g_n], outputs [p_1..p_n, m_1..m_n, v_1..v_n] (each triple shaped
// and typed as g_i, contiguous, one dtype throughout), attrs as adam_step. The threads split
// the concatenated element range, not the tensors, so many small parameters still share
// the pool; each element gets adam_step's update (bitwise the same as n adam_step calls).
template <typename T> void adam_multi_into(const trt_kernel_args* a) {
  const int n = a->n_inputs;
  std::vector<int64_t> ends(static_cast<size_t>(n));  // ends[i]: one past tensor i in the concatenation
  int64_t total = 0;
  for (int i = 0; i < n; ++i) ends[i] = total += numel(a->inputs[i]);
  const simd::AdamScalars<T> s = adam_scalars<T>(a);
  parallel_for(total, a->num_threads, [&](int64_t begin, int64_t end) {
    int t = static_cast<int>(std::upper_bound(ends.begin(), ends.end(), begin) - ends.begin());
    for (int64_t pos = begin; pos < end && t < n; ++t) {
      int64_t start = t ? ends[t - 1] : 0, stop = std::min(end, ends[t]);
      if (stop <= pos) continue;
      const T* g = data<T>(a->inputs[t]) - start;
      T* p = data<T>(a->outputs[t]) - start;
      T* m = data<T>(a->outputs[n + t]) - start;
      T* v = data<T>(a->outputs[2 * n + t]) - start;
      simd::adam(p + pos, g + pos, m + pos, v + pos, stop - pos, s);
      pos = stop;
    }
  }, kParallelMinElements / 2);
}

trt_status adam_multi_kernel(const trt_kernel_args* a) {
  const int n = a->n_inputs;
  if (n < 0 || a->n_outputs != 3 * n || a->n_int_attrs < 1 || a->n_float_attrs < 7)
    return fail(a, TRT_ERR_INVALID_ARGUMENT,
                "adam_multi: expects n grads, 3n outputs [params, exp_avgs, exp_avg_sqs], 1 int and 7 float attrs");
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "adam_multi: operands must be contiguous");
  if (n == 0) return TRT_OK;
  int32_t dtype = a->inputs[0].dtype;
  for (int i = 0; i < n; ++i) {
    int64_t count = numel(a->inputs[i]);
    for (int k = 0; k < 3; ++k) {
      const trt_tensor_view& o = a->outputs[k * n + i];
      if (numel(o) != count || o.dtype != dtype || a->inputs[i].dtype != dtype)
        return fail(a, TRT_ERR_INVALID_ARGUMENT, "adam_multi: tensor %d: grad, param and state differ in size or dtype",
                    i);
    }
  }
  TRT_CPU_DISPATCH_FLOAT(a, dtype, adam_multi_into<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

bool register_optim(const trt_host_api* host) {
  return add_kernel(host, "sgd_step", sgd_step_kernel) && add_kernel(host, "adam_step", adam_step_kernel) &&
         add_kernel(host, "adam_multi", adam_multi_kernel);
}

}  // namespace trt_cpu
