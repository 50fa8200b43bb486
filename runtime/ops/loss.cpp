// Softmax family, losses and dropout: input checks with one-line errors, kernel
// calls (log_softmax, softmax, nll_loss, dropout_mask and their backwards) and
// the backward formulas. cross_entropy is nll_loss(log_softmax(x)); mse_loss is
// written in element-wise ops, so autograd gets it for free.
#include "trainrt/devices.h"
#include "trainrt/ops/loss.h"

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/ops/elementwise.h"
#include "trainrt/ops/reduce.h"

namespace trainrt::ops {
namespace {

int64_t reduction_code(Reduction r) {
  switch (r) {
    case Reduction::None: return 0;
    case Reduction::Mean: return 1;
    case Reduction::Sum: return 2;
  }
  fail("unknown reduction");
}

// log_softmax / softmax share everything but the kernel names.
Tensor softmax_like(const char* op, const char* backward_op, const Tensor& x, int64_t dim) {
  CurrentOp scope(op);
  TRT_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor, got ", dtype_name(x.dtype()),
            "; convert with :float()");
  dim = wrap_dim(dim, x.dim(), op);
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());  // y: x's shape
  if (y.numel()) call_kernel(op, {x.detach()}, {y}, {dim});
  // log_softmax: dx = dy - exp(y) * sum_dim(dy);  softmax: dx = y * (dy - sum_dim(dy * y))
  record(op, {x}, y, [backward_op, y_saved = y.detach(), dim](const Tensor& g) {
    Tensor dx = Tensor::empty(y_saved.sizes(), y_saved.dtype(), y_saved.device());
    if (dx.numel()) call_kernel(backward_op, {g, y_saved}, {dx}, {dim});
    return std::vector<Tensor>{dx};
  });
  return y;
}

// Shape/dtype/device checks shared by nll_loss and cross_entropy; `op` and
// `what` ("logp", "logits") name the caller in messages.
void check_classification(const char* op, const char* what, const Tensor& input, const Tensor& target) {
  TRT_CHECK(is_floating(input.dtype()), op, ": ", what, " must be floating, got ", dtype_name(input.dtype()));
  TRT_CHECK(input.dim() == 2, op, ": ", what, " must be (N, C), got ", input.shape_str());
  TRT_CHECK(target.dtype() == DType::Int64, op, ": target must hold int64 class indices, got ",
            dtype_name(target.dtype()), "; convert labels with :long()");
  TRT_CHECK(target.dim() == 1, op, ": target must be (N) class indices, got ", target.shape_str());
  TRT_CHECK(input.size(0) == target.size(0), op, ": ", what, " ", input.shape_str(), " and target ",
            target.shape_str(), " - batch sizes differ");
  TRT_CHECK(input.device() == target.device(), op, ": ", what, " on ", input.device().str(), ", target on ",
            target.device().str(), "; move them with :to(device)");
}

// Calls a kernel that validates labels; its "nll_loss: ..." message names `op`.
void call_labelled(const char* op, const char* kernel, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& outputs, int64_t reduction) {
  call_kernel_as(op, kernel, inputs, outputs, {reduction});
}

Tensor nll_impl(const char* op, const Tensor& logp, const Tensor& target, Reduction reduction) {
  CurrentOp scope(op);
  int64_t code = reduction_code(reduction);
  // loss: (N) for Reduction::None, () otherwise
  Shape out_shape = reduction == Reduction::None ? Shape{logp.size(0)} : Shape{};
  Tensor loss = Tensor::empty(out_shape, logp.dtype(), logp.device());
  if (loss.numel()) call_labelled(op, "nll_loss", {logp.detach(), target}, {loss}, code);
  // forward: loss_i = -logp[i, t_i]  =>  dlogp[i, t_i] = -dy_i (mean: -dy / N), 0 elsewhere
  record(op, {logp}, loss, [op, target, code, shape = logp.sizes(), dt = logp.dtype(), dev = logp.device()](
                               const Tensor& g) {
    Tensor dx = Tensor::empty(shape, dt, dev);  // dx: (N, C)
    if (dx.numel()) call_labelled(op, "nll_loss_backward", {g, target}, {dx}, code);
    return std::vector<Tensor>{dx};
  });
  return loss;
}

}  // namespace

Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_like("log_softmax", "log_softmax_backward", x, dim); }

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_like("softmax", "softmax_backward", x, dim); }

Tensor nll_loss(const Tensor& logp, const Tensor& target, Reduction reduction) {
  check_classification("nll_loss", "logp", logp, target);
  return nll_impl("nll_loss", logp, target, reduction);
}

// forward: loss = nll_loss(log_softmax(logits, -1), target)
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_classification("cross_entropy", "logits", logits, target);
  return nll_impl("cross_entropy", log_softmax(logits, -1), target, reduction);
}

// forward: loss = reduce((input - target)^2)
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TRT_CHECK(input.sizes() == target.sizes(), "mse_loss: input ", input.shape_str(), " and target ", target.shape_str(),
            " - shapes differ");
  TRT_CHECK(is_floating(input.dtype()) && is_floating(target.dtype()), "mse_loss: needs floating tensors, got ",
            dtype_name(input.dtype()), " and ", dtype_name(target.dtype()), "; convert with :float()");
  Tensor diff = sub(input, target);
  Tensor sq = mul(diff, diff);
  switch (reduction) {
    case Reduction::None: return sq;
    case Reduction::Sum: return sum(sq);
    case Reduction::Mean: break;
  }
  TRT_CHECK(sq.numel() > 0, "mse_loss: mean of an empty tensor of shape ", input.shape_str());
  return mean(sq);
}

// forward: y = x * mask, mask = (u >= p) / (1 - p)  =>  dx = dy * mask (through mul)
Tensor dropout(const Tensor& x, double p, bool training) {
  TRT_CHECK(p >= 0 && p <= 1, "dropout: p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  TRT_CHECK(is_floating(x.dtype()), "dropout: needs a floating tensor, got ", dtype_name(x.dtype()));
  Tensor mask = Tensor::empty(x.sizes(), x.dtype(), x.device());  // mask: x's shape
  GeneratorState drawn = generator_advance(x.device(), static_cast<uint64_t>(x.numel()));
  if (mask.numel())
    call_kernel("dropout_mask", {}, {mask}, {static_cast<int64_t>(drawn.seed), static_cast<int64_t>(drawn.offset)}, {p});
  return mul(x, mask);
}

}  // namespace trainrt::ops
