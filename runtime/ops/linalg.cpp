// matmul and linear: NumPy shape rules (1-D operands, broadcast batch dims),
// checks with both shapes in the error, and backward formulas written with
// matmul itself on transposed views (the kernel reads them as BLAS Trans, no copy).
// Deliberately not here: any arithmetic (the "matmul" kernel of each device).
#include "trainrt/devices.h"
#include "trainrt/ops/linalg.h"

#include "trainrt/autocast.h"
#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/ops/elementwise.h"
#include "trainrt/ops/reduce.h"

namespace trainrt::ops {
namespace {

void check_operands(const Tensor& a, const Tensor& b, const char* op) {
  TRT_CHECK(a.defined() && b.defined(), op, ": undefined tensor argument");
  TRT_CHECK(a.device() == b.device(), op, ": ", a.shape_str(), " on ", a.device().str(), " x ", b.shape_str(), " on ",
            b.device().str(), " - tensors on different devices; move them with :to(device)");
  TRT_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype(), op, ": ", a.shape_str(), " ", dtype_name(a.dtype()),
            " x ", b.shape_str(), " ", dtype_name(b.dtype()), " - needs two float32 or two float64 tensors");
}

// Views `t` (batch..., R, C), already expanded to the full batch shape, as (B, R, C)
// with one batch stride; copies only when its batch dims do not collapse.
Tensor as_batched(const Tensor& t, int64_t batch) {
  int64_t nd = t.dim();
  const Shape& s = t.sizes();
  const Shape& st = t.strides();
  int64_t stride = 0;
  bool ok = true, seen = false;
  int64_t expected = 0;
  for (int64_t d = nd - 3; d >= 0; --d) {
    if (s[d] == 1) continue;
    if (!seen) {
      stride = st[d];
      expected = st[d] * s[d];
      seen = true;
    } else if (st[d] == expected) {
      expected *= s[d];
    } else {
      ok = false;
    }
  }
  if (!ok) return as_batched(t.contiguous(), batch);
  return make_view(t, {batch, s[nd - 2], s[nd - 1]}, {stride, st[nd - 2], st[nd - 1]}, t.offset());
}

// a: (..., M, K) x b: (..., K, N), both at least 2-D, -> (batch..., M, N);
// `shape_a`/`shape_b` are the user's shapes for messages (before 1-D promotion).
Tensor matmul_nd(const Tensor& a, const Tensor& b, const Shape& shape_a, const Shape& shape_b) {
  int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  TRT_CHECK(b.size(-2) == K, "matmul: ", shape_str(shape_a), " x ", shape_str(shape_b), " - inner sizes differ");
  Shape batch_a(a.sizes().begin(), a.sizes().end() - 2), batch_b(b.sizes().begin(), b.sizes().end() - 2);
  Shape batch;
  size_t nb = std::max(batch_a.size(), batch_b.size());
  for (size_t i = 0; i < nb; ++i) {
    int64_t da = i + batch_a.size() >= nb ? batch_a[i + batch_a.size() - nb] : 1;
    int64_t db = i + batch_b.size() >= nb ? batch_b[i + batch_b.size() - nb] : 1;
    TRT_CHECK(da == db || da == 1 || db == 1, "matmul: ", shape_str(shape_a), " x ", shape_str(shape_b),
              " - batch dims cannot be broadcast");
    batch.push_back(da == 1 ? db : da);
  }
  int64_t B = numel_of(batch);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (out.numel()) {
    Shape full_a = batch, full_b = batch;
    full_a.insert(full_a.end(), {M, K});
    full_b.insert(full_b.end(), {K, N});
    Tensor av = as_batched(a.detach().expand(full_a), B);  // (B, M, K)
    Tensor bv = as_batched(b.detach().expand(full_b), B);  // (B, K, N)
    call_kernel("matmul", {av, bv}, {out.view({B, M, N})});
  }
  // forward: C = A x B  =>  dA = dC x B^T, dB = A^T x dC (each summed over broadcast batch dims)
  record("matmul", {a, b}, out,
         [a = a.detach(), b = b.detach(), ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
           Tensor da, db;
           if (ra) da = sum_to(matmul(g, b.transpose(-1, -2)), a.sizes());
           if (rb) db = sum_to(matmul(a.transpose(-1, -2), g), b.sizes());
           return std::vector<Tensor>{da, db};
         });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast::applies(a, b)) {  // bf16 operands and result (trainrt/autocast.h)
    autocast::Suspend inner;
    return round_bf16(matmul(round_bf16(a), round_bf16(b)));
  }
  CurrentOp scope("matmul");
  check_operands(a, b, "matmul");
  TRT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: ", a.shape_str(), " x ", b.shape_str(),
            " - both operands need at least one dim");
  // NumPy: a 1-D left operand is a row (1, K), a 1-D right operand a column (K, 1);
  // the added dim is removed from the result.
  Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  Tensor out = matmul_nd(a2, b2, a.sizes(), b.sizes());
  if (b.dim() == 1) out = out.squeeze(-1);
  if (a.dim() == 1) out = out.squeeze(out.dim() - (b.dim() == 1 ? 1 : 2));
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (autocast::applies(x, w)) {  // bf16 operands and result (trainrt/autocast.h)
    autocast::Suspend inner;
    return round_bf16(linear(round_bf16(x), round_bf16(w), b.defined() ? round_bf16(b) : b));
  }
  CurrentOp scope("linear");
  check_operands(x, w, "linear");
  TRT_CHECK(w.dim() == 2, "linear: weight must be (out, in), got ", w.shape_str());
  TRT_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", x.shape_str(), " x weight ", w.shape_str(),
            " - input features differ from weight's in (", w.size(1), ")");
  int64_t in = w.size(1), out_features = w.size(0);
  if (b.defined()) {
    check_operands(x, b, "linear");
    TRT_CHECK(b.dim() == 1 && b.size(0) == out_features, "linear: bias ", b.shape_str(), " for weight ", w.shape_str(),
              " - expected (", out_features, ")");
  }
  Shape out_shape(x.sizes().begin(), x.sizes().end() - 1);
  out_shape.push_back(out_features);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  int64_t rows = numel_of(Shape(x.sizes().begin(), x.sizes().end() - 1));  // not numel / in: in may be 0
  if (out.numel()) {
    Tensor x2 = x.detach().reshape({rows, in}).unsqueeze(0);  // (1, R, in)
    Tensor wt = w.detach().t().unsqueeze(0);                  // (1, in, out) as a transposed view
    Tensor y2 = out.view({1, rows, out_features});            // (1, R, out)
    bool with_bias = b.defined();
    if (with_bias) {  // y = b (broadcast), then y += x W^T in the same GEMM (beta = 1)
      Tensor y_rows = out.view({rows, out_features});
      copy_(y_rows, b.detach());
    }
    call_kernel("matmul", {x2, wt}, {y2}, {with_bias ? 1 : 0});
  }
  // forward: y = x W^T + b  =>  dx = dy W, dW = dy^T x (over all rows), db = sum_rows(dy)
  std::vector<Tensor> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  record("linear", inputs, out,
         [x = x.detach(), w = w.detach(), rx = x.requires_grad(), rw = w.requires_grad(),
          rb = b.defined() && b.requires_grad(), has_b = b.defined(), rows, in, out_features](const Tensor& g) {
           Tensor g2 = g.reshape({rows, out_features});  // dy: (R, out)
           std::vector<Tensor> grads(has_b ? 3 : 2);
           if (rx) grads[0] = matmul(g2, w).reshape(x.sizes());
           if (rw) grads[1] = matmul(g2.t(), x.reshape({rows, in}));
           if (rb) grads[2] = sum(g2, {0});
           return grads;
         });
  return out;
}

}  // namespace trainrt::ops
