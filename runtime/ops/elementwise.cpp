// Element-wise ops: promotion, broadcasting, kernel call and backward formulas.
// Kernels see inputs already expanded to the output shape (stride 0 where broadcast).
#include "trainrt/devices.h"
#include "trainrt/ops/elementwise.h"

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/ops/reduce.h"

namespace trainrt::ops {
namespace {

int rank_of(DType t) {
  switch (t) {
    case DType::UInt8: return 0;
    case DType::Int64: return 1;
    case DType::Float32: return 2;
    case DType::Float64: return 3;
    default: fail(std::string("no arithmetic on dtype ") + dtype_name(t));
  }
}

struct Broadcast {
  Tensor a, b;  // expanded, promoted, detached views
  Shape shape;
  DType dtype;
};

Broadcast broadcast_pair(const Tensor& a, const Tensor& b, const char* op) {
  TRT_CHECK(a.device() == b.device(), op, ": tensors on different devices ", a.device().str(), " and ", b.device().str(),
            "; move them with :to(device)");
  Broadcast r;
  r.dtype = promote_types(a.dtype(), b.dtype());
  r.shape = broadcast_shapes(a.sizes(), b.sizes(), op);
  NoGradGuard no_grad;
  r.a = a.detach().to(r.dtype).expand(r.shape);
  r.b = b.detach().to(r.dtype).expand(r.shape);
  return r;
}

Tensor binary_kernel(const char* op, const Tensor& a, const Tensor& b, DType out_dtype_override = DType::BFloat16) {
  CurrentOp scope(op);
  Broadcast bc = broadcast_pair(a, b, op);
  DType out_dtype = out_dtype_override == DType::BFloat16 ? bc.dtype : out_dtype_override;
  Tensor out = Tensor::empty(bc.shape, out_dtype, a.device());
  if (out.numel()) call_kernel(op, {bc.a, bc.b}, {out});
  return out;
}

Tensor unary_kernel(const char* op, const Tensor& x) {
  CurrentOp scope(op);
  TRT_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor, got ", dtype_name(x.dtype()));
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel()) call_kernel(op, {x.detach()}, {out});
  return out;
}

// What backward needs to know of an input without keeping its storage alive.
struct InputMeta {
  Shape shape;
  DType dtype;
  bool requires_grad;
  explicit InputMeta(const Tensor& t) : shape(t.sizes()), dtype(t.dtype()), requires_grad(t.requires_grad()) {}
};

// Sums a broadcast gradient back to an input's shape and dtype.
Tensor reduce_grad(const Tensor& g, const InputMeta& input) {
  Tensor r = sum_to(g, input.shape);
  return r.dtype() == input.dtype ? r : r.to(input.dtype);
}
Tensor reduce_grad(const Tensor& g, const Tensor& input) { return reduce_grad(g, InputMeta(input)); }

Tensor scalar(const Tensor& like, double v) {
  DType dt = is_floating(like.dtype()) ? like.dtype() : DType::Float32;
  if (like.dtype() == DType::Int64 && v == static_cast<double>(static_cast<int64_t>(v))) dt = DType::Int64;
  return full({}, v, dt, like.device());
}

}  // namespace

DType promote_types(DType a, DType b) { return rank_of(a) >= rank_of(b) ? a : b; }

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("add", a, b);
  record("add", {a, b}, out, [a = InputMeta(a), b = InputMeta(b)](const Tensor& g) {
    return std::vector<Tensor>{a.requires_grad ? reduce_grad(g, a) : Tensor(), b.requires_grad ? reduce_grad(g, b) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("sub", a, b);
  record("sub", {a, b}, out, [a = InputMeta(a), b = InputMeta(b)](const Tensor& g) {
    return std::vector<Tensor>{a.requires_grad ? reduce_grad(g, a) : Tensor(),
                               b.requires_grad ? reduce_grad(neg(g), b) : Tensor()};
  });
  return out;
}

// forward: y = a * b  =>  da = dy * b, db = dy * a
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("mul", a, b);
  record("mul", {a, b}, out, [a = a.detach(), b = b.detach(), ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
    return std::vector<Tensor>{ra ? reduce_grad(mul(g, b), a) : Tensor(), rb ? reduce_grad(mul(g, a), b) : Tensor()};
  });
  return out;
}

// forward: y = a / b  =>  da = dy / b, db = -dy * a / b^2 = -dy * y / b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("div", a, b);
  record("div", {a, b}, out,
         [a = a.detach(), b = b.detach(), y = out.detach(), ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
           return std::vector<Tensor>{ra ? reduce_grad(div(g, b), a) : Tensor(),
                                      rb ? reduce_grad(neg(div(mul(g, y), b)), b) : Tensor()};
         });
  return out;
}

// forward: y = a ^ b  =>  da = dy * b * a^(b-1), db = dy * y * log(a)
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("pow", a, b);
  record("pow", {a, b}, out,
         [a = a.detach(), b = b.detach(), y = out.detach(), ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
           return std::vector<Tensor>{ra ? reduce_grad(mul(g, mul(b, pow(a, sub(b, 1.0)))), a) : Tensor(),
                                      rb ? reduce_grad(mul(g, mul(y, log(a))), b) : Tensor()};
         });
  return out;
}

// forward: y = max(a, b)  =>  the larger input takes dy (a on ties)
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("maximum", a, b);
  record("maximum", {a, b}, out, [a = a.detach(), b = b.detach(), ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g) {
    Tensor a_wins = ge(a, b).to(g.dtype());
    return std::vector<Tensor>{ra ? reduce_grad(mul(g, a_wins), a) : Tensor(),
                               rb ? reduce_grad(mul(g, rsub(a_wins, 1.0)), b) : Tensor()};
  });
  return out;
}

Tensor add(const Tensor& a, double b) { return add(a, scalar(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar(a, b)); }
Tensor rsub(const Tensor& a, double b) { return sub(scalar(a, b), a); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar(a, b)); }
Tensor rdiv(const Tensor& a, double b) { return div(scalar(a, b), a); }

// forward: y = x^p  =>  dx = dy * p * x^(p-1)
Tensor pow(const Tensor& a, double exponent) {
  Tensor out = binary_kernel("pow", a, scalar(a, exponent));
  record("pow_scalar", {a}, out, [a = a.detach(), exponent](const Tensor& g) {
    return std::vector<Tensor>{mul(g, mul(pow(a, exponent - 1), exponent))};
  });
  return out;
}

Tensor neg(const Tensor& x) {
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel()) call_kernel("neg", {x.detach()}, {out});
  record("neg", {x}, out, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
  return out;
}

// forward: y = exp(x)  =>  dx = dy * y
Tensor exp(const Tensor& x) {
  Tensor out = unary_kernel("exp", x);
  record("exp", {x}, out, [y = out.detach()](const Tensor& g) { return std::vector<Tensor>{mul(g, y)}; });
  return out;
}

// forward: y = log(x)  =>  dx = dy / x
Tensor log(const Tensor& x) {
  Tensor out = unary_kernel("log", x);
  record("log", {x}, out, [x = x.detach()](const Tensor& g) { return std::vector<Tensor>{div(g, x)}; });
  return out;
}

// forward: y = sqrt(x)  =>  dx = dy / (2 y)
Tensor sqrt(const Tensor& x) {
  Tensor out = unary_kernel("sqrt", x);
  record("sqrt", {x}, out, [y = out.detach()](const Tensor& g) { return std::vector<Tensor>{div(g, mul(y, 2.0))}; });
  return out;
}

// forward: y = |x|  =>  dx = dy * sign(x)
Tensor abs(const Tensor& x) {
  Tensor out = unary_kernel("abs", x);
  record("abs", {x}, out, [x = x.detach()](const Tensor& g) {
    Tensor sign = sub(gt(x, scalar(x, 0)).to(g.dtype()), lt(x, scalar(x, 0)).to(g.dtype()));
    return std::vector<Tensor>{mul(g, sign)};
  });
  return out;
}

// forward: y = max(x, 0)  =>  dx = dy * (x > 0)   (kernel relu_backward)
Tensor relu(const Tensor& x) {
  Tensor out = unary_kernel("relu", x);
  record("relu", {x}, out, [x = x.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(x.sizes(), x.dtype(), x.device());
    call_kernel("relu_backward", {g, x}, {dx});
    return std::vector<Tensor>{dx};
  });
  return out;
}

// In place, outside autograd: what nn.Sequential does under no_grad to an
// intermediate it is about to release, so a ReLU needs no second activation.
Tensor& relu_(Tensor& x) {
  CurrentOp scope("relu_");
  TRT_CHECK(is_floating(x.dtype()), "relu_: needs a floating tensor, got ", dtype_name(x.dtype()));
  TRT_CHECK(!grad_enabled() || !x.requires_grad(),
            "relu_: in place on a tensor that requires grad while grad mode is on; use relu(x)");
  if (x.numel()) call_kernel("relu", {x.detach()}, {x.detach()});
  return x;
}

// forward: y = sigmoid(x)  =>  dx = dy * y * (1 - y)   (kernel sigmoid_backward)
Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_kernel("sigmoid", x);
  record("sigmoid", {x}, out, [y = out.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(y.sizes(), y.dtype(), y.device());
    call_kernel("sigmoid_backward", {g, y}, {dx});
    return std::vector<Tensor>{dx};
  });
  return out;
}

// forward: y = tanh(x)  =>  dx = dy * (1 - y^2)   (kernel tanh_backward)
Tensor tanh(const Tensor& x) {
  Tensor out = unary_kernel("tanh", x);
  record("tanh", {x}, out, [y = out.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(y.sizes(), y.dtype(), y.device());
    call_kernel("tanh_backward", {g, y}, {dx});
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_kernel("eq", a, b, DType::UInt8); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_kernel("ne", a, b, DType::UInt8); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_kernel("lt", a, b, DType::UInt8); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_kernel("le", a, b, DType::UInt8); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_kernel("gt", a, b, DType::UInt8); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_kernel("ge", a, b, DType::UInt8); }

}  // namespace trainrt::ops
