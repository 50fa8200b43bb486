// conv2d, max_pool2d, avg_pool2d over NCHW: shape rules and one-line errors
// naming both shapes, output allocation, kernel calls and backward formulas
// (conv2d_backward_input/_weight, max/avg_pool2d_backward kernels; bias grad
// is a registered sum). Kernels get contiguous tensors.
// Deliberately not here: any arithmetic, ceil_mode, padding modes other than zeros.
#include "trainrt/devices.h"
#include "trainrt/ops/conv_pool.h"

#include <string>

#include "trainrt/autocast.h"
#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/elementwise.h"
#include "trainrt/ops/reduce.h"

namespace trainrt::ops {
namespace {

std::string pair_str(const std::array<int64_t, 2>& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

// Output extent of one spatial dim (PyTorch's floor formula).
int64_t out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;  // last valid window start
  return span < 0 ? 0 : span / stride + 1;
}

void check_float_4d(const Tensor& t, const char* op, const char* what) {
  TRT_CHECK(t.defined(), op, ": ", what, " is undefined");
  TRT_CHECK(t.dim() == 4, op, ": ", what, " must be 4-D (N, C, H, W), got ", t.shape_str());
  TRT_CHECK(is_floating(t.dtype()), op, ": ", what, " must be float32 or float64, got ", dtype_name(t.dtype()));
}

std::vector<int64_t> conv_attrs(const Conv2dOptions& o) {
  return {o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], o.groups};
}

// conv2d's argument checks (errors name both shapes); the output shape (N, O, OH, OW).
Shape conv_shape(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  check_float_4d(x, "conv2d", "input");
  TRT_CHECK(w.defined() && w.dim() == 4, "conv2d: weight must be 4-D (O, C/groups, kH, kW), got ",
            w.defined() ? w.shape_str() : std::string("undefined"));
  TRT_CHECK(x.dtype() == w.dtype() && x.device() == w.device(), "conv2d: input ", x.shape_str(), " ",
            dtype_name(x.dtype()), " on ", x.device().str(), " and weight ", w.shape_str(), " ", dtype_name(w.dtype()),
            " on ", w.device().str(), " must share dtype and device");
  TRT_CHECK(o.stride[0] >= 1 && o.stride[1] >= 1 && o.dilation[0] >= 1 && o.dilation[1] >= 1 && o.padding[0] >= 0 &&
                o.padding[1] >= 0 && o.groups >= 1,
            "conv2d: stride ", pair_str(o.stride), " and dilation ", pair_str(o.dilation), " must be >= 1, padding ",
            pair_str(o.padding), " >= 0, groups ", o.groups, " >= 1");
  int64_t N = x.size(0), C = x.size(1), O = w.size(0), G = o.groups;
  TRT_CHECK(C % G == 0 && O % G == 0, "conv2d: input ", x.shape_str(), " and weight ", w.shape_str(),
            " - channels ", C, " and ", O, " must both be divisible by groups=", G);
  TRT_CHECK(w.size(1) * G == C, "conv2d: input ", x.shape_str(), " has ", C, " channels but weight ", w.shape_str(),
            " expects ", w.size(1) * G, " (groups=", G, ")");
  int64_t OH = out_size(x.size(2), w.size(2), o.stride[0], o.padding[0], o.dilation[0]);
  int64_t OW = out_size(x.size(3), w.size(3), o.stride[1], o.padding[1], o.dilation[1]);
  TRT_CHECK(OH > 0 && OW > 0, "conv2d: input ", x.shape_str(), " with weight ", w.shape_str(), ", padding ",
            pair_str(o.padding), ", dilation ", pair_str(o.dilation), " gives output size (", OH, ", ", OW,
            ") - the input is too small for the kernel");
  if (b.defined()) {
    TRT_CHECK(b.dim() == 1 && b.size(0) == O, "conv2d: bias ", b.shape_str(), " for weight ", w.shape_str(),
              " - expected (", O, ")");
    TRT_CHECK(b.dtype() == x.dtype() && b.device() == x.device(), "conv2d: bias must share the input's dtype and device");
  }
  return {N, O, OH, OW};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  if (autocast::applies(x, w)) {  // bf16 operands and result (trainrt/autocast.h)
    autocast::Suspend inner;
    return round_bf16(conv2d(round_bf16(x), round_bf16(w), b.defined() ? round_bf16(b) : b, o));
  }
  CurrentOp scope("conv2d");
  Shape out_shape = conv_shape(x, w, b, o);  // (N, O, OH, OW)
  std::vector<int64_t> attrs = conv_attrs(o);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  if (out.numel()) {
    std::vector<Tensor> inputs{xc, wc};
    if (b.defined()) inputs.push_back(b.detach().contiguous());
    call_kernel("conv2d", inputs, {out}, attrs);
  }
  // forward: y = conv2d(x, w) + b[None, :, None, None]
  //   =>  dx = conv2d_backward_input(dy, w), dw = conv2d_backward_weight(dy, x), db = sum(dy, {0, 2, 3})
  std::vector<Tensor> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  record("conv2d", inputs, out,
         [xc = w.requires_grad() ? xc : Tensor(), wc = x.requires_grad() ? wc : Tensor(), in_shape = xc.sizes(),
          w_shape = wc.sizes(), attrs, rx = x.requires_grad(), rw = w.requires_grad(), rb = b.defined() && b.requires_grad(),
          has_b = b.defined()](const Tensor& g) {
           Tensor dy = g.contiguous();  // dy: (N, O, OH, OW)
           std::vector<Tensor> grads(has_b ? 3 : 2);
           if (rx) {
             grads[0] = Tensor::empty(in_shape, dy.dtype(), dy.device());  // dx: (N, C, H, W)
             call_kernel("conv2d_backward_input", {dy, wc}, {grads[0]}, attrs);
           }
           if (rw) {
             grads[1] = Tensor::empty(w_shape, dy.dtype(), dy.device());  // dw: (O, C/G, kH, kW)
             call_kernel("conv2d_backward_weight", {dy, xc}, {grads[1]}, attrs);
           }
           if (rb) grads[2] = sum(dy, {0, 2, 3});
           return grads;
         });
  return out;
}

namespace {

struct PoolShape {
  Tensor x4;              // input as contiguous (N, C, H, W), detached
  Shape out4;             // (N, C, OH, OW)
  std::vector<int64_t> attrs;  // kh, kw, sh, sw, ph, pw
};

// The pooled shape of a 4-D input shape `in` and the kernel's attrs; errors name `shown` (the user's shape).
std::pair<Shape, std::vector<int64_t>> pool_geometry(const Shape& in, const std::string& shown, const Pool2dOptions& o,
                                                     const char* op) {
  std::array<int64_t, 2> k = o.kernel, s = o.stride, p = o.padding;
  if (s[0] == 0) s[0] = k[0];
  if (s[1] == 0) s[1] = k[1];
  TRT_CHECK(k[0] >= 1 && k[1] >= 1 && s[0] >= 1 && s[1] >= 1, op, ": kernel ", pair_str(k), " and stride ",
            pair_str(s), " must be >= 1");
  TRT_CHECK(p[0] >= 0 && p[1] >= 0 && 2 * p[0] <= k[0] && 2 * p[1] <= k[1], op, ": padding ", pair_str(p),
            " must be between 0 and half the kernel ", pair_str(k));
  int64_t OH = out_size(in[2], k[0], s[0], p[0], 1), OW = out_size(in[3], k[1], s[1], p[1], 1);
  TRT_CHECK(OH > 0 && OW > 0, op, ": input ", shown, " with kernel ", pair_str(k), ", stride ", pair_str(s),
            ", padding ", pair_str(p), " gives output size (", OH, ", ", OW, ")");
  return {{in[0], in[1], OH, OW}, {k[0], k[1], s[0], s[1], p[0], p[1]}};
}

PoolShape pool_shape(const Tensor& x, const Pool2dOptions& o, const char* op) {
  TRT_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), op, ": input must be (N, C, H, W) or (C, H, W), got ",
            x.defined() ? x.shape_str() : std::string("undefined"));
  TRT_CHECK(is_floating(x.dtype()), op, ": input must be float32 or float64, got ", dtype_name(x.dtype()));
  Tensor x4 = x.detach().contiguous();
  if (x4.dim() == 3) x4 = x4.unsqueeze(0);
  auto [out4, attrs] = pool_geometry(x4.sizes(), x.shape_str(), o, op);
  return PoolShape{x4, out4, attrs};
}

Shape user_out_shape(const Tensor& x, const Shape& out4) {
  return x.dim() == 4 ? out4 : Shape{out4[1], out4[2], out4[3]};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  CurrentOp scope("max_pool2d");
  PoolShape ps = pool_shape(x, o, "max_pool2d");
  Tensor y = Tensor::empty(ps.out4, x.dtype(), x.device());  // y: (N, C, OH, OW)
  if (y.numel()) call_kernel("max_pool2d", {ps.x4}, {y}, ps.attrs);
  Tensor out = y.view(user_out_shape(x, ps.out4));
  // forward: y = x[argmax over window]  =>  dx[argmax] += dy; the kernel finds
  // the argmax again from x and y (no index tensor: cheaper than storing one).
  record("max_pool2d", {x}, out, [x4 = ps.x4.detach(), y = y.detach(), in_shape = x.sizes(), out4 = ps.out4,
                                  attrs = ps.attrs](const Tensor& g) {
    Tensor dy = g.contiguous().view(out4);
    Tensor dx = Tensor::empty(x4.sizes(), dy.dtype(), dy.device());
    call_kernel("max_pool2d_backward", {dy, x4, y}, {dx}, attrs);
    return std::vector<Tensor>{dx.view(in_shape)};
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  CurrentOp scope("avg_pool2d");
  PoolShape ps = pool_shape(x, o, "avg_pool2d");
  std::vector<int64_t> attrs = ps.attrs;
  attrs.push_back(o.count_include_pad ? 1 : 0);
  Tensor y = Tensor::empty(ps.out4, x.dtype(), x.device());  // y: (N, C, OH, OW)
  if (y.numel()) call_kernel("avg_pool2d", {ps.x4}, {y}, attrs);
  Tensor out = y.view(user_out_shape(x, ps.out4));
  // forward: y = sum(window) / divisor  =>  dx[window] += dy / divisor
  record("avg_pool2d", {x}, out,
         [in4 = ps.x4.sizes(), in_shape = x.sizes(), out4 = ps.out4, attrs](const Tensor& g) {
           Tensor dy = g.contiguous().view(out4);
           Tensor dx = Tensor::empty(in4, dy.dtype(), dy.device());
           call_kernel("avg_pool2d_backward", {dy}, {dx}, attrs);
           return std::vector<Tensor>{dx.view(in_shape)};
         });
  return out;
}

// Inference form of the conv -> ReLU -> max-pool block (see the header).
Tensor conv2d_relu_max_pool2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& co,
                              const Pool2dOptions& po) {
  if (autocast::applies(x, w)) {  // bf16 operands; pooling a rounded ReLU is rounding the pooled one
    autocast::Suspend inner;
    return round_bf16(conv2d_relu_max_pool2d(round_bf16(x), round_bf16(w), b.defined() ? round_bf16(b) : b, co, po));
  }
  bool needs_graph = grad_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (needs_graph || !x.defined() || !has_kernel("conv2d_relu_max_pool2d", x.device().type))
    return max_pool2d(relu(conv2d(x, w, b, co)), po);
  CurrentOp scope("conv2d_relu_max_pool2d");
  Shape conv_out = conv_shape(x, w, b, co);  // (N, O, OH, OW), never allocated whole
  auto [out4, pool_attrs] = pool_geometry(conv_out, shape_str(conv_out) + " (the convolution's output)", po,
                                          "conv2d_relu_max_pool2d");
  Tensor y = Tensor::empty(out4, x.dtype(), x.device());  // (N, O, PH, PW)
  std::vector<int64_t> attrs = conv_attrs(co);
  attrs.insert(attrs.end(), pool_attrs.begin(), pool_attrs.end());
  std::vector<Tensor> inputs{x.detach().contiguous(), w.detach().contiguous()};
  if (b.defined()) inputs.push_back(b.detach().contiguous());
  if (y.numel()) call_kernel("conv2d_relu_max_pool2d", inputs, {y}, attrs);
  return y;
}

}  // namespace trainrt::ops
