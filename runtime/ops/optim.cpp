// Fused optimizer updates: checks that a parameter, its gradient and its state
// agree (shape, dtype, device, contiguous), then one in-place kernel call
// (sgd_step, adam_step). Not recorded by autograd, and allowed on leaves that
// require grad: an optimizer step is the one sanctioned in-place change.
#include "trainrt/ops/optim.h"

#include <cmath>
#include <vector>

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

namespace {

void check_adam(const char* op, const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq) {
  check_param(op, param);
  check_like_param(op, param, grad, "grad");
  check_like_param(op, param, exp_avg, "exp_avg");
  check_like_param(op, param, exp_avg_sq, "exp_avg_sq");
}

void check_adam_options(const char* op, const AdamOptions& o, int64_t step) {
  TRT_CHECK(step >= 1, op, ": step is 1-based, got ", step);
  TRT_CHECK(o.lr >= 0, op, ": lr must be >= 0, got ", o.lr);
  TRT_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, op, ": betas must be in [0, 1), got (",
            o.beta1, ", ", o.beta2, ")");
  TRT_CHECK(o.eps >= 0, op, ": eps must be >= 0, got ", o.eps);
  TRT_CHECK(o.weight_decay >= 0, op, ": weight_decay must be >= 0, got ", o.weight_decay);
}

std::vector<double> adam_float_attrs(const AdamOptions& o, int64_t step) {
  double bias_correction1 = 1 - std::pow(o.beta1, static_cast<double>(step));
  double bias_correction2 = 1 - std::pow(o.beta2, static_cast<double>(step));
  return {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, bias_correction1, bias_correction2};
}

}  // namespace

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamOptions& o,
               int64_t step) {
  check_adam("adam_step", param, grad, exp_avg, exp_avg_sq);
  check_adam_options("adam_step", o, step);
  if (param.numel() == 0) return;
  call_kernel("adam_step", {grad}, {param, exp_avg, exp_avg_sq}, {o.decoupled_weight_decay ? 1 : 0},
              adam_float_attrs(o, step));
}

void adam_step_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                     std::vector<Tensor>& exp_avg_sqs, const AdamOptions& o, int64_t step) {
  const char* op = "adam_step_multi";
  size_t n = params.size();
  TRT_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n, op, ": got ", n, " params, ",
            grads.size(), " grads, ", exp_avgs.size(), " exp_avgs and ", exp_avg_sqs.size(), " exp_avg_sqs");
  check_adam_options(op, o, step);
  for (size_t i = 0; i < n; ++i) check_adam(op, params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]);
  // One launch per run of (device, dtype); tensors with no elements need no update.
  std::vector<int64_t> int_attrs{o.decoupled_weight_decay ? 1 : 0};
  std::vector<double> float_attrs = adam_float_attrs(o, step);
  std::vector<bool> done(n, false);
  for (size_t first = 0; first < n; ++first) {
    if (done[first]) continue;
    const Tensor& lead = params[first];
    std::vector<size_t> members;
    for (size_t i = first; i < n; ++i)
      if (!done[i] && params[i].device() == lead.device() && params[i].dtype() == lead.dtype()) {
        done[i] = true;
        if (params[i].numel() > 0) members.push_back(i);
      }
    if (members.empty()) continue;
    if (!has_kernel("adam_multi", lead.device().type)) {  // e.g. ops-cuda has no adam_multi: per-tensor launches
      for (size_t i : members)
        call_kernel("adam_step", {grads[i]}, {params[i], exp_avgs[i], exp_avg_sqs[i]}, int_attrs, float_attrs);
      continue;
    }
    std::vector<Tensor> inputs, outputs;
    inputs.reserve(members.size());
    outputs.reserve(3 * members.size());
    for (size_t i : members) inputs.push_back(grads[i]);
    for (size_t i : members) outputs.push_back(params[i]);
    for (size_t i : members) outputs.push_back(exp_avgs[i]);
    for (size_t i : members) outputs.push_back(exp_avg_sqs[i]);
    call_kernel_as(op, "adam_multi", inputs, outputs, int_attrs, float_attrs);
  }
}

}  // namespace trainrt::ops
