// Fused optimizer updates: checks that a parameter, its gradient and its state
// agree (shape, dtype, device, contiguous), then one in-place kernel call
// (sgd_step, adam_step). Not recorded by autograd, and allowed on leaves that
// require grad: an optimizer step is the one sanctioned in-place change.
#include "trainrt/ops/optim.h"

#include <cmath>

#include "trainrt/dispatch.h"
#include "trainrt/error.h"

namespace trainrt::ops {
namespace {

// `what` names t in the message ("grad", "exp_avg", ...).
void check_like_param(const char* op, const Tensor& param, const Tensor& t, const char* what) {
  TRT_CHECK(t.defined(), op, ": ", what, " is undefined");
  TRT_CHECK(t.sizes() == param.sizes(), op, ": param ", param.shape_str(), " and ", what, " ", t.shape_str(),
            " - shapes differ");
  TRT_CHECK(t.dtype() == param.dtype(), op, ": param is ", dtype_name(param.dtype()), " but ", what, " is ",
            dtype_name(t.dtype()));
  TRT_CHECK(t.device() == param.device(), op, ": param on ", param.device().str(), " but ", what, " on ",
            t.device().str());
  TRT_CHECK(t.is_contiguous(), op, ": ", what, " ", t.shape_str(), " is not contiguous");
}

void check_param(const char* op, const Tensor& param) {
  TRT_CHECK(param.defined(), op, ": param is undefined");
  TRT_CHECK(is_floating(param.dtype()), op, ": param must be floating, got ", dtype_name(param.dtype()));
  TRT_CHECK(param.is_contiguous(), op, ": param ", param.shape_str(), " is not contiguous");
}

}  // namespace

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, const SgdOptions& o, bool first_step) {
  check_param("sgd_step", param);
  check_like_param("sgd_step", param, grad, "grad");
  TRT_CHECK(o.lr >= 0, "sgd_step: lr must be >= 0, got ", o.lr);
  TRT_CHECK(o.momentum >= 0, "sgd_step: momentum must be >= 0, got ", o.momentum);
  TRT_CHECK(o.weight_decay >= 0, "sgd_step: weight_decay must be >= 0, got ", o.weight_decay);
  TRT_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
            "sgd_step: nesterov needs momentum > 0 and dampening 0, got momentum ", o.momentum, " dampening ",
            o.dampening);
  std::vector<Tensor> outputs{param};
  if (o.momentum != 0) {
    check_like_param("sgd_step", param, momentum_buf, "momentum_buf");
    outputs.push_back(momentum_buf);
  }
  if (param.numel() == 0) return;
  call_kernel("sgd_step", {grad}, outputs, {o.nesterov ? 1 : 0, first_step ? 1 : 0},
              {o.lr, o.momentum, o.dampening, o.weight_decay});
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamOptions& o,
               int64_t step) {
  check_param("adam_step", param);
  check_like_param("adam_step", param, grad, "grad");
  check_like_param("adam_step", param, exp_avg, "exp_avg");
  check_like_param("adam_step", param, exp_avg_sq, "exp_avg_sq");
  TRT_CHECK(step >= 1, "adam_step: step is 1-based, got ", step);
  TRT_CHECK(o.lr >= 0, "adam_step: lr must be >= 0, got ", o.lr);
  TRT_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "adam_step: betas must be in [0, 1), got (",
            o.beta1, ", ", o.beta2, ")");
  TRT_CHECK(o.eps >= 0, "adam_step: eps must be >= 0, got ", o.eps);
  TRT_CHECK(o.weight_decay >= 0, "adam_step: weight_decay must be >= 0, got ", o.weight_decay);
  if (param.numel() == 0) return;
  double bias_correction1 = 1 - std::pow(o.beta1, static_cast<double>(step));
  double bias_correction2 = 1 - std::pow(o.beta2, static_cast<double>(step));
  call_kernel("adam_step", {grad}, {param, exp_avg, exp_avg_sq}, {o.decoupled_weight_decay ? 1 : 0},
              {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, bias_correction1, bias_correction2});
}

}  // namespace trainrt::ops
