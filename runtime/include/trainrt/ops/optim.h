// Fused, in-place optimizer updates (one kernel per parameter). Not recorded by
// autograd. Formulas follow torch.optim.SGD / Adam / AdamW exactly.
#pragma once
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::ops {

struct SgdOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
// momentum_buf: same shape as param (ignored when momentum == 0); first_step
// initialises it with the gradient as PyTorch does.
void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, const SgdOptions& options, bool first_step);

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // true = AdamW
};
// step: 1-based count of this update (bias correction).
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamOptions& options,
               int64_t step);
// adam_step on every (params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]) with one
// shared step: one `adam_multi` kernel launch per (device, dtype) among them, or
// per-tensor adam_step launches where the device's plugin has no adam_multi.
// Results are bitwise those of adam_step on each.
void adam_step_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                     std::vector<Tensor>& exp_avg_sqs, const AdamOptions& options, int64_t step);

}  // namespace trainrt::ops
