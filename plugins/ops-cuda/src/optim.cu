// Fused in-place optimizer updates on the GPU: one thread per element of a
// parameter, its gradient and its state, with the per-element formulas of
// trainrt/kernel_math.h (torch.optim SGD, Adam, AdamW). CUDA twin of
// ops-cpu/src/optim.cpp; operands are contiguous (checked as on the CPU).
#include <cstdint>

#include "kernel_util.cuh"
#include "kernels.h"

namespace trt_cuda {
namespace {

bool all_contiguous(const trt_kernel_args* a) {
  for (int i = 0; i < a->n_inputs; ++i)
    if (!is_contiguous(a->inputs[i])) return false;
  for (int i = 0; i < a->n_outputs; ++i)
    if (!is_contiguous(a->outputs[i])) return false;
  return true;
}

// SGD hyper-parameters in the parameter's type, as one kernel argument.
template <typename T> struct SgdParams {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

// p, g, buf: (n) contiguous; buf is null when momentum is 0.
template <typename T> __global__ void sgd_update_all(int64_t n, T* p, const T* g, T* buf, SgdParams<T> h) {
  TRT_CUDA_GRID_STRIDE(i, n)
  trainrt::math::sgd_update(p[i], g[i], buf ? buf + i : nullptr, h.lr, h.momentum, h.dampening, h.weight_decay,
                            h.nesterov, h.first_step);
}

// sgd_step: inputs [grad], outputs [param] or [param, momentum_buf] (momentum != 0),
// int_attrs [nesterov, first_step], float_attrs [lr, momentum, dampening, weight_decay].
trt_status sgd_step_kernel(const trt_kernel_args* a) {
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "sgd_step: operands must be contiguous");
  if (a->float_attrs[1] != 0 && a->n_outputs < 2)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "sgd_step: momentum %g needs a momentum buffer output", a->float_attrs[1]);
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  const double* f = a->float_attrs;
  bool nesterov = a->int_attrs[0] != 0, first_step = a->int_attrs[1] != 0;
  TRT_CUDA_DISPATCH_FLOAT(a, a->outputs[0].dtype, {
    SgdParams<scalar_t> h{static_cast<scalar_t>(f[0]), static_cast<scalar_t>(f[1]), static_cast<scalar_t>(f[2]),
                          static_cast<scalar_t>(f[3]), nesterov, first_step};
    scalar_t* buf = a->n_outputs > 1 ? data<scalar_t>(a->outputs[1]) : nullptr;
    sgd_update_all<<<blocks_for(n), kBlock, 0, stream_of(a)>>>(n, data<scalar_t>(a->outputs[0]),
                                                               data<scalar_t>(a->inputs[0]), buf, h);
  });
  return check_launch(a, "sgd_step");
}

// Adam hyper-parameters in the parameter's type, in docs/ops.md's attribute order.
template <typename T> struct AdamParams {
  T lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;
};

// p, g, m, v: (n) contiguous.
template <typename T> __global__ void adam_update_all(int64_t n, T* p, const T* g, T* m, T* v, AdamParams<T> h) {
  TRT_CUDA_GRID_STRIDE(i, n)
  trainrt::math::adam_update(p[i], g[i], m[i], v[i], h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.decoupled,
                             h.bias_correction1, h.bias_correction2);
}

// adam_step: inputs [grad], outputs [param, exp_avg, exp_avg_sq], int_attrs [decoupled],
// float_attrs [lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2].
trt_status adam_step_kernel(const trt_kernel_args* a) {
  if (!all_contiguous(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "adam_step: operands must be contiguous");
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  const double* f = a->float_attrs;
  TRT_CUDA_DISPATCH_FLOAT(a, a->outputs[0].dtype, {
    AdamParams<scalar_t> h{static_cast<scalar_t>(f[0]), static_cast<scalar_t>(f[1]), static_cast<scalar_t>(f[2]),
                           static_cast<scalar_t>(f[3]), static_cast<scalar_t>(f[4]), static_cast<scalar_t>(f[5]),
                           static_cast<scalar_t>(f[6]), a->int_attrs[0] != 0};
    adam_update_all<<<blocks_for(n), kBlock, 0, stream_of(a)>>>(n, data<scalar_t>(a->outputs[0]),
                                                                data<scalar_t>(a->inputs[0]),
                                                                data<scalar_t>(a->outputs[1]),
                                                                data<scalar_t>(a->outputs[2]), h);
  });
  return check_launch(a, "adam_step");
}

}  // namespace

bool register_optim(const trt_host_api* host) {
  return add_kernel(host, "sgd_step", sgd_step_kernel) && add_kernel(host, "adam_step", adam_step_kernel);
}

}  // namespace trt_cuda
