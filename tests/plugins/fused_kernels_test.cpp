// The fused kernels of ops-cpu (issue 12: a captured training-step plan swaps
// them in for eager kernels) against the unfused compositions they replace,
// called through the dlopen-loaded plugin's registry (call_kernel):
//   conv2d_relu                 == relu(conv2d)                        bit for bit
//   max_pool2d_backward_relu    == relu_backward(max_pool2d_backward, c) bit for bit
//   conv2d_backward_weight_bias == conv2d_backward_weight + sum(dy, {0, 2, 3})
//                                  to rounding (float32 rtol 1e-5/atol 1e-5, float64 1e-12)
//   adam_multi / ops::adam_step_multi == one adam_step per tensor   bit for bit
//   elementwise_chain           == its ops one kernel at a time       bit for bit
//   pool_relu_conv2d_backward_weight_bias == max_pool2d_backward_relu then
//                                  conv2d_backward_weight_bias       bit for bit
//   adam_step, adam_multi (vectorised loops) == trainrt::math::adam_update one
//                                  element at a time in this file      bit for bit
// over odd shapes, padding/stride/dilation/group variants and zero-size tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "trainrt/dispatch.h"
#include "trainrt/elementwise_program.h"
#include "trainrt/kernel_math.h"
#include "trainrt/ops.h"
#include "trainrt/stream.h"

namespace trainrt {
namespace {

using test::expect_bitwise;

struct ConvCase {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G;
  bool bias;
};

const ConvCase kConvCases[] = {
    {2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},    // odd plane, same padding
    {3, 2, 9, 6, 5, 2, 3, 2, 2, 0, 0, 1, 1, 1, false},   // stride 2, no padding, no bias
    {2, 4, 11, 10, 6, 3, 3, 2, 1, 2, 1, 2, 2, 2, true},  // dilation 2, groups 2, asymmetric stride/padding
    {1, 1, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},    // 1x1 everything
    {4, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},  // the seed CNN's conv2 (oneDNN's blocked path)
    {0, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},    // zero-size batch
    {3, 1, 9, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},   // a grayscale first layer (AVX2 tiles of 8 channels)
    {2, 8, 6, 7, 24, 3, 2, 2, 1, 0, 1, 1, 2, 1, true},   // channel blocks: stride, dilation, a tile of 3 blocks
};

Shape conv_out(const ConvCase& c) {
  int64_t OH = (c.H + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  int64_t OW = (c.W + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  return {c.N, c.O, OH, OW};
}
std::vector<int64_t> conv_attrs(const ConvCase& c) { return {c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.G}; }
std::string conv_name(const ConvCase& c, DType dt) {
  return std::string(dtype_name(dt)) + " N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " +
         std::to_string(c.H) + "x" + std::to_string(c.W) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) +
         " s" + std::to_string(c.sh) + " p" + std::to_string(c.ph) + " d" + std::to_string(c.dh) + " g" +
         std::to_string(c.G);
}

TEST(FusedKernels, Conv2dReluIsReluOfConv2dBitForBit) {
  ASSERT_TRUE(has_kernel("conv2d_relu", DeviceType::CPU));
  for (DType dt : {DType::Float32, DType::Float64})
    for (const ConvCase& c : kConvCases) {
      Tensor x = ops::randn({c.N, c.C, c.H, c.W}, 0, 1, dt);
      Tensor w = ops::randn({c.O, c.C / c.G, c.kh, c.kw}, 0, 0.5, dt);
      std::vector<Tensor> inputs{x, w};
      if (c.bias) inputs.push_back(ops::randn({c.O}, 0, 0.5, dt));
      Tensor y = Tensor::empty(conv_out(c), dt), fused = Tensor::empty(conv_out(c), dt);
      if (y.numel()) call_kernel("conv2d", inputs, {y}, conv_attrs(c));
      call_kernel("conv2d_relu", inputs, {fused}, conv_attrs(c));
      expect_bitwise(fused, ops::relu(y), conv_name(c, dt));
    }
}

TEST(FusedKernels, Conv2dBackwardWeightBiasMatchesWeightPlusSum) {
  ASSERT_TRUE(has_kernel("conv2d_backward_weight_bias", DeviceType::CPU));
  for (DType dt : {DType::Float32, DType::Float64})
    for (const ConvCase& c : kConvCases) {
      double tol = dt == DType::Float32 ? 1e-5 : 1e-12;
      Tensor x = ops::randn({c.N, c.C, c.H, c.W}, 0, 1, dt);
      Tensor dy = ops::randn(conv_out(c), 0, 1, dt);
      Shape w_shape{c.O, c.C / c.G, c.kh, c.kw};
      Tensor dw = Tensor::empty(w_shape, dt), dw_fused = Tensor::empty(w_shape, dt), db = Tensor::empty({c.O}, dt);
      if (dy.numel()) call_kernel("conv2d_backward_weight", {dy, x}, {dw}, conv_attrs(c));
      else dw = ops::zeros(w_shape, dt);
      Tensor db_ref = ops::sum(dy.to(DType::Float64), {0, 2, 3});  // exact to float32's rounding
      call_kernel("conv2d_backward_weight_bias", {dy, x}, {dw_fused, db}, conv_attrs(c));
      SCOPED_TRACE(conv_name(c, dt));
      test::expect_close(dw_fused, dw, tol, tol);
      SCOPED_TRACE("db");
      test::expect_close(db, db_ref, tol, tol);
    }
}

struct PoolCase {
  int64_t N, C, H, W, kh, kw, sh, sw, ph, pw;
};

// Values in {-1.5, -1, ..., 1.5}: many exact ties, among positives and among the zeros relu makes.
Tensor coarse(const Shape& shape, DType dt) {
  static std::mt19937 rng(12);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = 0.5 * (static_cast<int>(rng() % 7) - 3);
  return Tensor::from_vector(v, shape, dt);
}

TEST(FusedKernels, MaxPool2dBackwardReluIsReluBackwardOfPoolBackwardBitForBit) {
  ASSERT_TRUE(has_kernel("max_pool2d_backward_relu", DeviceType::CPU));
  const PoolCase cases[] = {
      {2, 3, 8, 6, 2, 2, 2, 2, 0, 0},    // MaxPool2d(2) tiling the plane (the vectorised path)
      {2, 3, 7, 5, 2, 2, 2, 2, 0, 0},    // MaxPool2d(2) on an odd plane (last row/column unused)
      {1, 2, 9, 7, 3, 3, 2, 2, 1, 1},    // 3x3 stride 2 padding 1 (overlapping windows)
      {2, 2, 6, 5, 3, 2, 1, 1, 0, 0},    // stride 1 (every element in several windows)
      {3, 4, 1, 9, 1, 3, 1, 2, 0, 1},    // 1-high plane, padding on one side
      {8, 32, 28, 28, 2, 2, 2, 2, 0, 0},  // the seed CNN's first pool shape at batch 8 (threads split the planes)
      {0, 3, 4, 4, 2, 2, 2, 2, 0, 0},    // zero-size batch
  };
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : cases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(p.H) + "x" + std::to_string(p.W) + " k" +
                   std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s" + std::to_string(p.sh) + " p" +
                   std::to_string(p.ph));
      Tensor c = coarse({p.N, p.C, p.H, p.W}, dt);
      Tensor x = ops::relu(c);
      Shape y_shape{p.N, p.C, (p.H + 2 * p.ph - p.kh) / p.sh + 1, (p.W + 2 * p.pw - p.kw) / p.sw + 1};
      std::vector<int64_t> attrs{p.kh, p.kw, p.sh, p.sw, p.ph, p.pw};
      Tensor y = Tensor::empty(y_shape, dt);
      call_kernel("max_pool2d", {x}, {y}, attrs);
      Tensor dy = ops::randn(y_shape, 0, 1, dt);
      Tensor pooled = Tensor::empty(x.sizes(), dt), expected = Tensor::empty(x.sizes(), dt),
             fused = Tensor::empty(x.sizes(), dt);
      call_kernel("max_pool2d_backward", {dy, x, y}, {pooled}, attrs);
      call_kernel("relu_backward", {pooled, c}, {expected});
      call_kernel("max_pool2d_backward_relu", {dy, x, y}, {fused}, attrs);
      expect_bitwise(fused, expected, "dx");
    }
}

// pool_relu_conv2d_backward_weight_bias == conv2d_backward_weight_bias(max_pool2d_backward_relu(dy, c, y), x)
// bit for bit: on the direct path (one input channel per group) with the pooling's dy and y NCHW or
// channel-blocked, and through the two kernels for other convolutions.
TEST(FusedKernels, PoolReluConvBackwardWeightIsThePairBitForBit) {
  ASSERT_TRUE(has_kernel("pool_relu_conv2d_backward_weight_bias", DeviceType::CPU));
  struct Case {
    int64_t N, Cin, H, O, k, pad, G, pool_k, pool_s, pool_p;
    const char* what;
  };
  const Case cases[] = {
      {4, 1, 28, 32, 3, 1, 1, 2, 2, 0, "the seed CNN's first layer and MaxPool2d(2)"},
      {2, 8, 9, 16, 3, 1, 8, 3, 2, 1, "depthwise, 3x3 stride 2 padding 1 pooling"},
      {2, 4, 10, 8, 3, 0, 1, 2, 2, 0, "four input channels (oneDNN or im2col, through dc)"},
  };
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Case& c : cases)
      for (bool blocked : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + c.what + (blocked ? ", dy and y blocked" : ""));
        int64_t OH = c.H + 2 * c.pad - c.k + 1, PH = (OH + 2 * c.pool_p - c.pool_k) / c.pool_s + 1;
        std::vector<int64_t> conv_attrs{1, 1, c.pad, c.pad, 1, 1, c.G}, pool_attrs{c.pool_k, c.pool_k, c.pool_s,
                                                                                  c.pool_s, c.pool_p, c.pool_p};
        Tensor x = ops::randn({c.N, c.Cin, c.H, c.H}, 0, 1, dt);
        Tensor conv_out = coarse({c.N, c.O, OH, OH}, dt);  // ties and zeros: the ReLU mask and the first winner
        Tensor act = ops::relu(conv_out);
        Tensor y = Tensor::empty({c.N, c.O, PH, PH}, dt);
        call_kernel("max_pool2d", {act}, {y}, pool_attrs);
        Tensor dy = ops::randn({c.N, c.O, PH, PH}, 0, 1, dt);
        Tensor dc = Tensor::empty(act.sizes(), dt);
        call_kernel("max_pool2d_backward_relu", {dy, act, y}, {dc}, pool_attrs);
        Shape w_shape{c.O, c.Cin / c.G, c.k, c.k};
        Tensor dw = Tensor::empty(w_shape, dt), db = Tensor::empty({c.O}, dt);
        call_kernel("conv2d_backward_weight_bias", {dc, x}, {dw, db}, conv_attrs);
        Tensor dw_fused = Tensor::empty(w_shape, dt), db_fused = Tensor::empty({c.O}, dt);
        std::vector<int64_t> attrs = conv_attrs;
        attrs.insert(attrs.end(), pool_attrs.begin(), pool_attrs.end());
        auto as_operand = [&](const Tensor& t) {
          if (!blocked) return t;
          Shape s = t.sizes();
          Tensor b = Tensor::empty({s[0], s[1] / 8, s[2], s[3], 8}, dt);
          call_kernel("reorder_channel_blocked", {t}, {b}, {});
          return b;
        };
        call_kernel("pool_relu_conv2d_backward_weight_bias", {as_operand(dy), act, as_operand(y), x},
                    {dw_fused, db_fused}, attrs);
        expect_bitwise(dw_fused, dw, "dw");
        expect_bitwise(db_fused, db, "db");
      }
}

// Parameters of several sizes (one empty, one above the threads' split size).
const Shape kAdamShapes[] = {{3, 5}, {1}, {0}, {1000}, {7, 11, 13}, {70001}, {2, 2}};

struct AdamState {
  std::vector<Tensor> p, g, m, v;
};
AdamState adam_state(DType dt) {
  AdamState s;
  for (const Shape& shape : kAdamShapes) {
    s.p.push_back(ops::randn(shape, 0, 1, dt));
    s.m.push_back(ops::randn(shape, 0, 0.1, dt));
    s.v.push_back(ops::rand(shape, 0, 0.1, dt));
  }
  return s;
}
// The per-element formula, scalar, compiled here: the kernels' vectorised
// loops must round every element exactly as it does.
template <typename T>
void scalar_adam(AdamState& s, const std::vector<Tensor>& grads, const ops::AdamOptions& o, double bc1, double bc2) {
  for (size_t i = 0; i < s.p.size(); ++i) {
    std::vector<double> p = s.p[i].to_vector(), g = grads[i].to_vector(), m = s.m[i].to_vector(),
                        v = s.v[i].to_vector();
    for (size_t k = 0; k < p.size(); ++k) {
      T pk = static_cast<T>(p[k]), mk = static_cast<T>(m[k]), vk = static_cast<T>(v[k]);
      trainrt::math::adam_update<T>(pk, static_cast<T>(g[k]), mk, vk, static_cast<T>(o.lr), static_cast<T>(o.beta1),
                                    static_cast<T>(o.beta2), static_cast<T>(o.eps), static_cast<T>(o.weight_decay),
                                    o.decoupled_weight_decay, static_cast<T>(bc1), static_cast<T>(bc2));
      p[k] = pk;
      m[k] = mk;
      v[k] = vk;
    }
    DType dt = s.p[i].dtype();
    s.p[i] = Tensor::from_vector(p, s.p[i].sizes(), dt);
    s.m[i] = Tensor::from_vector(m, s.m[i].sizes(), dt);
    s.v[i] = Tensor::from_vector(v, s.v[i].sizes(), dt);
  }
}

AdamState clone(const AdamState& s) {
  AdamState c;
  for (const Tensor& t : s.p) c.p.push_back(t.clone());
  for (const Tensor& t : s.m) c.m.push_back(t.clone());
  for (const Tensor& t : s.v) c.v.push_back(t.clone());
  return c;
}

TEST(FusedKernels, AdamMultiIsAdamStepPerTensorBitForBit) {
  ASSERT_TRUE(has_kernel("adam_multi", DeviceType::CPU));
  int saved_threads = num_threads();
  set_num_threads(4);  // the concatenated range splits across tensors even on a 2-core machine
  for (DType dt : {DType::Float32, DType::Float64})
    for (double wd : {0.0, 0.01})
      for (bool decoupled : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " wd " + std::to_string(wd) + (decoupled ? " decoupled" : ""));
        ops::AdamOptions o;
        o.lr = 1e-2;
        o.weight_decay = wd;
        o.decoupled_weight_decay = decoupled;
        AdamState ref = adam_state(dt), kern = clone(ref), multi = clone(ref), scalar = clone(ref);
        for (int64_t step = 1; step <= 3; ++step) {
          std::vector<Tensor> grads;
          for (const Shape& shape : kAdamShapes) grads.push_back(ops::randn(shape, 0, 1, dt));
          for (size_t i = 0; i < grads.size(); ++i) ops::adam_step(ref.p[i], grads[i], ref.m[i], ref.v[i], o, step);
          // the kernel itself, with adam_step's attributes
          std::vector<Tensor> outputs;
          for (auto* list : {&kern.p, &kern.m, &kern.v})
            for (const Tensor& t : *list) outputs.push_back(t);
          double bc1 = 1 - std::pow(o.beta1, double(step)), bc2 = 1 - std::pow(o.beta2, double(step));
          call_kernel("adam_multi", grads, outputs, {decoupled ? 1 : 0},
                      {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, bc1, bc2});
          // the runtime op
          ops::adam_step_multi(multi.p, grads, multi.m, multi.v, o, step);
          if (dt == DType::Float32) scalar_adam<float>(scalar, grads, o, bc1, bc2);
          else scalar_adam<double>(scalar, grads, o, bc1, bc2);
        }
        for (size_t i = 0; i < ref.p.size(); ++i) {
          std::string at = "tensor " + std::to_string(i);
          expect_bitwise(kern.p[i], ref.p[i], "adam_multi param " + at);
          expect_bitwise(kern.m[i], ref.m[i], "adam_multi exp_avg " + at);
          expect_bitwise(kern.v[i], ref.v[i], "adam_multi exp_avg_sq " + at);
          expect_bitwise(multi.p[i], ref.p[i], "adam_step_multi param " + at);
          expect_bitwise(multi.m[i], ref.m[i], "adam_step_multi exp_avg " + at);
          expect_bitwise(multi.v[i], ref.v[i], "adam_step_multi exp_avg_sq " + at);
          expect_bitwise(ref.p[i], scalar.p[i], "adam_step param against the scalar formula " + at);
          expect_bitwise(ref.m[i], scalar.m[i], "adam_step exp_avg against the scalar formula " + at);
          expect_bitwise(ref.v[i], scalar.v[i], "adam_step exp_avg_sq against the scalar formula " + at);
        }
      }
  set_num_threads(saved_threads);
}

TEST(FusedKernels, AdamStepMultiMixedDtypesAndErrors) {
  ops::AdamOptions o;
  std::vector<Tensor> p{ops::randn({5}, 0, 1, DType::Float32), ops::randn({4}, 0, 1, DType::Float64),
                        ops::randn({3}, 0, 1, DType::Float32)};
  std::vector<Tensor> g{ops::randn({5}, 0, 1, DType::Float32), ops::randn({4}, 0, 1, DType::Float64),
                        ops::randn({3}, 0, 1, DType::Float32)};
  std::vector<Tensor> m, v, rp, rm, rv;
  for (const Tensor& t : p) {
    m.push_back(ops::zeros_like(t));
    v.push_back(ops::zeros_like(t));
    rp.push_back(t.clone());
    rm.push_back(ops::zeros_like(t));
    rv.push_back(ops::zeros_like(t));
  }
  ops::adam_step_multi(p, g, m, v, o, 1);
  for (size_t i = 0; i < p.size(); ++i) {
    ops::adam_step(rp[i], g[i], rm[i], rv[i], o, 1);
    expect_bitwise(p[i], rp[i], "param " + std::to_string(i));
  }
  std::vector<Tensor> none;
  ops::adam_step_multi(none, none, none, none, o, 1);  // nothing to do
  std::vector<Tensor> short_m{m[0]};
  EXPECT_ERROR_CONTAINS(ops::adam_step_multi(p, g, short_m, v, o, 1), "adam_step_multi: got 3 params");
  std::vector<Tensor> bad_g{g[0], ops::zeros({2}, DType::Float64), g[2]};
  EXPECT_ERROR_CONTAINS(ops::adam_step_multi(p, bad_g, m, v, o, 1), "adam_step_multi: param (4) and grad (2)");
  EXPECT_ERROR_CONTAINS(ops::adam_step_multi(p, g, m, v, o, 0), "adam_step_multi: step is 1-based");
}

// elementwise_chain: y = relu(a * b + c) and z = sigmoid(a * b + c) - a from one
// program over 5000 elements (ten tiles), c one broadcast value; then the
// same program written in place over a (an output that is also an input).
TEST(FusedKernels, ElementwiseChainIsItsOpsOneAtATime) {
  namespace ew = trainrt::elementwise;
  ASSERT_TRUE(has_kernel("elementwise_chain", DeviceType::CPU));
  // registers: 0 a, 1 b, 2 c | 3 = a*b, 4 = 3+c, 5 = relu(4), 6 = sigmoid(4), 7 = 6-a
  std::vector<int64_t> program{8, 5, ew::kMul, 3, 0, 1, ew::kAdd, 4, 3, 2, ew::kRelu, 5, 4, -1,
                               ew::kSigmoid, 6, 4, -1, ew::kSub, 7, 6, 0, 2, 5, 7};
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor a = ops::randn({50, 100}, 0, 1, dt), b = ops::randn({50, 100}, 0, 1, dt);
    Tensor c = ops::full({1, 1}, 0.25, dt).expand({50, 100});  // strides 0
    Tensor ab = Tensor::empty({50, 100}, dt), s = Tensor::empty({50, 100}, dt), y_ref = Tensor::empty({50, 100}, dt),
           g = Tensor::empty({50, 100}, dt), z_ref = Tensor::empty({50, 100}, dt);
    call_kernel("mul", {a, b}, {ab});
    call_kernel("add", {ab, c}, {s});
    call_kernel("relu", {s}, {y_ref});
    call_kernel("sigmoid", {s}, {g});
    call_kernel("sub", {g, a}, {z_ref});
    Tensor y = Tensor::empty({50, 100}, dt), z = Tensor::empty({50, 100}, dt);
    call_kernel("elementwise_chain", {a, b, c}, {y, z}, program);
    expect_bitwise(y, y_ref, "relu(a * b + c)");
    expect_bitwise(z, z_ref, "sigmoid(a * b + c) - a");
    Tensor a2 = a.clone();
    call_kernel("elementwise_chain", {a2, b, c}, {a2, z}, program);  // y over its own input a
    expect_bitwise(a2, y_ref, "in place");
    expect_bitwise(z, z_ref, "beside an in-place output");
  }
  Tensor a = ops::randn({10}, 0, 1, DType::Float32), y = Tensor::empty({10}, DType::Float32);
  std::vector<int64_t> reads_ahead{2, 1, ew::kNeg, 1, 1, -1, 1, 1};  // reads its own result
  EXPECT_ERROR_CONTAINS(call_kernel("elementwise_chain", {a}, {y}, reads_ahead),
                        "elementwise_chain: invalid program (bad operand)");
  Tensor strided = ops::randn({10, 2}, 0, 1, DType::Float32).select(1, 0);
  EXPECT_ERROR_CONTAINS(call_kernel("elementwise_chain", {strided}, {y}, {2, 1, ew::kNeg, 1, 0, -1, 1, 1}),
                        "input 0 must be contiguous like the outputs or one broadcast value");
}

}  // namespace
}  // namespace trainrt
