// Fused in-place optimizer updates: one pass over a parameter, its gradient and
// its state. The per-element formulas (torch.optim SGD, Adam, AdamW) live in
// trainrt/kernel_math.h so the CUDA plugin applies exactly the same update.
// Operands are contiguous (the runtime checks); the state tensors are outputs
// because they are written in place.
#include "kernel_util.h"
#include "kernels.h"
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
template <typename T> void adam_into(const trt_kernel_args* a) {
  const T* g = data<T>(a->inputs[0]);
  T* p = data<T>(a->outputs[0]);
  T* m = data<T>(a->outputs[1]);
  T* v = data<T>(a->outputs[2]);
  const double* f = a->float_attrs;
  T lr = static_cast<T>(f[0]), beta1 = static_cast<T>(f[1]), beta2 = static_cast<T>(f[2]), eps = static_cast<T>(f[3]),
    wd = static_cast<T>(f[4]), bc1 = static_cast<T>(f[5]), bc2 = static_cast<T>(f[6]);
  bool decoupled = a->int_attrs[0] != 0;
  parallel_for(numel(a->outputs[0]), a->num_threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      trainrt::math::adam_update(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
  }, kParallelMinElements / 2);
}

trt_status adam_step_kernel(const trt_kernel_args* a) {
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "adam_step: operands must be contiguous");
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, adam_into<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

bool register_optim(const trt_host_api* host) {
  return add_kernel(host, "sgd_step", sgd_step_kernel) && add_kernel(host, "adam_step", adam_step_kernel);
}

}  // namespace trt_cpu
