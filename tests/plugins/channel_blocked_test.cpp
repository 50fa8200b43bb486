// The channel-blocked layout of ops-cpu (plugins/ops-cpu/src/channel_blocked.h),
// which a compiled plan gives activations between convolutions and poolings
// (runtime/compile/channel_blocked.cpp), called through the dlopen-loaded
// plugin's registry:
//   reorder_channel_blocked puts element (n, c, h, w) at [n][c / 8][h][w][c % 8]
//     and back, and refuses operands that do not hold the same tensor;
//   every convolution kernel gives bit for bit the NCHW result when its
//     activations (x, y, dy, dx; x and dx where C % 8 == 0) come blocked, on
//     each path: oneDNN (float32, natively), the AVX2 tiles (a single input
//     channel: y natively), direct (one input channel per group) and im2col
//     (float64), which take an NCHW copy;
//   max_pool2d, max_pool2d_backward and max_pool2d_backward_relu give bit for
//     bit the NCHW result for every mix of blocked and NCHW operands, with
//     ties and NaNs, on exactly tiled 2x2 windows (the tile kernels) and others.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"
#include "trainrt/stream.h"

namespace trainrt {
namespace {

using test::expect_bitwise;

Shape blocked_shape(const Shape& nchw) { return {nchw[0], nchw[1] / 8, nchw[2], nchw[3], 8}; }

Tensor to_blocked(const Tensor& x) {
  Tensor b = Tensor::empty(blocked_shape(x.sizes()), x.dtype());
  call_kernel("reorder_channel_blocked", {x}, {b}, {});
  return b;
}
Tensor to_nchw(const Tensor& b) {
  Shape s = b.sizes();
  Tensor x = Tensor::empty({s[0], s[1] * 8, s[2], s[3]}, b.dtype());
  call_kernel("reorder_channel_blocked", {b}, {x}, {});
  return x;
}

TEST(ChannelBlocked, ReorderPlacesEveryElementAndBack) {
  ASSERT_TRUE(has_kernel("reorder_channel_blocked", DeviceType::CPU)) << "ops-cpu built without oneDNN?";
  // Planes of 15 (one 8x8 transpose and a remainder), 16, 1 and 49 elements.
  const Shape shapes[] = {{2, 16, 3, 5}, {1, 8, 4, 4}, {3, 24, 1, 1}, {2, 8, 7, 7}};
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + std::to_string(s[1]) + "x" + std::to_string(s[2]) + "x" +
                   std::to_string(s[3]));
      Tensor x = ops::randn(s, 0, 1, dt);
      Tensor b = to_blocked(x);
      std::vector<double> plain = x.to_vector(), blocked = b.to_vector();
      for (int64_t n = 0; n < s[0]; ++n)
        for (int64_t c = 0; c < s[1]; ++c)
          for (int64_t h = 0; h < s[2]; ++h)
            for (int64_t w = 0; w < s[3]; ++w) {
              size_t at_plain = static_cast<size_t>(((n * s[1] + c) * s[2] + h) * s[3] + w);
              size_t at_blocked = static_cast<size_t>((((n * (s[1] / 8) + c / 8) * s[2] + h) * s[3] + w) * 8 + c % 8);
              ASSERT_EQ(blocked[at_blocked], plain[at_plain]) << "n" << n << " c" << c << " h" << h << " w" << w;
            }
      expect_bitwise(to_nchw(b), x, "round trip");
    }
}

TEST(ChannelBlocked, ReorderRefusesOperandsOfDifferentTensors) {
  Tensor x = ops::randn({2, 16, 3, 3}, 0, 1, DType::Float32);
  Tensor wrong_channels = Tensor::empty({2, 1, 3, 3, 8}, DType::Float32);
  Tensor both_plain = Tensor::empty({2, 16, 3, 3}, DType::Float32);
  Tensor other_dtype = Tensor::empty({2, 2, 3, 3, 8}, DType::Float64);
  for (const Tensor& out : {wrong_channels, both_plain, other_dtype}) {
    try {
      call_kernel("reorder_channel_blocked", {x}, {out}, {});
      synchronize(Device::cpu());  // a kernel's error is raised where the host next waits
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("reorder_channel_blocked"), std::string::npos) << e.what();
    }
  }
}

struct ConvCase {
  int64_t N, C, H, W, O, k, s, p, G;
  DType dt;
  const char* path;
};

const ConvCase kConvCases[] = {
    {4, 32, 14, 14, 64, 3, 1, 1, 1, DType::Float32, "oneDNN, the seed CNN's conv2"},
    {2, 16, 9, 7, 24, 3, 2, 1, 2, DType::Float32, "oneDNN, groups 2, stride 2, odd plane"},
    {2, 8, 6, 6, 16, 3, 1, 1, 8, DType::Float32, "direct, depthwise (one input channel per group)"},
    {2, 16, 5, 6, 8, 3, 1, 1, 1, DType::Float64, "im2col (float64)"},
    {2, 1, 9, 7, 16, 3, 1, 1, 1, DType::Float32, "single input channel (AVX2 tiles), y and dy blocked"},
};

// x, dx: blocked where their channels fill blocks (a single input channel stays NCHW).
Tensor blocked_if_whole(const Tensor& x) { return x.size(1) % 8 == 0 ? to_blocked(x) : x; }
Tensor as_nchw(const Tensor& x) { return x.dim() == 5 ? to_nchw(x) : x; }
Shape blocked_shape_if_whole(const Shape& s) { return s[1] % 8 == 0 ? blocked_shape(s) : s; }

TEST(ChannelBlocked, ConvolutionKernelsTakeBlockedActivationsBitForBit) {
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(c.path);
    int64_t OH = (c.H + 2 * c.p - c.k) / c.s + 1, OW = (c.W + 2 * c.p - c.k) / c.s + 1;
    std::vector<int64_t> attrs{c.s, c.s, c.p, c.p, 1, 1, c.G};
    Shape x_shape{c.N, c.C, c.H, c.W}, y_shape{c.N, c.O, OH, OW}, w_shape{c.O, c.C / c.G, c.k, c.k};
    Tensor x = ops::randn(x_shape, 0, 1, c.dt), w = ops::randn(w_shape, 0, 0.3, c.dt), b = ops::randn({c.O}, 0, 0.3, c.dt);
    Tensor dy = ops::randn(y_shape, 0, 1, c.dt);
    for (const char* kernel : {"conv2d", "conv2d_relu"}) {
      Tensor y = Tensor::empty(y_shape, c.dt), yb = Tensor::empty(blocked_shape(y_shape), c.dt);
      Tensor y_mixed = Tensor::empty(y_shape, c.dt);
      call_kernel(kernel, {x, w, b}, {y}, attrs);
      call_kernel(kernel, {blocked_if_whole(x), w, b}, {yb}, attrs);
      call_kernel(kernel, {blocked_if_whole(x), w, b}, {y_mixed}, attrs);
      expect_bitwise(to_nchw(yb), y, std::string(kernel) + " x, y blocked");
      expect_bitwise(y_mixed, y, std::string(kernel) + " x blocked");
    }
    Tensor dx = Tensor::empty(x_shape, c.dt), dxb = Tensor::empty(blocked_shape_if_whole(x_shape), c.dt);
    call_kernel("conv2d_backward_input", {dy, w}, {dx}, attrs);
    call_kernel("conv2d_backward_input", {to_blocked(dy), w}, {dxb}, attrs);
    expect_bitwise(as_nchw(dxb), dx, "conv2d_backward_input dy, dx blocked");
    Tensor dw = Tensor::empty(w_shape, c.dt), dw_b = Tensor::empty(w_shape, c.dt);
    call_kernel("conv2d_backward_weight", {dy, x}, {dw}, attrs);
    call_kernel("conv2d_backward_weight", {to_blocked(dy), blocked_if_whole(x)}, {dw_b}, attrs);
    expect_bitwise(dw_b, dw, "conv2d_backward_weight dy, x blocked");
    Tensor db = Tensor::empty({c.O}, c.dt), db_b = Tensor::empty({c.O}, c.dt);
    call_kernel("conv2d_backward_weight_bias", {dy, x}, {dw, db}, attrs);
    call_kernel("conv2d_backward_weight_bias", {to_blocked(dy), x}, {dw_b, db_b}, attrs);
    expect_bitwise(dw_b, dw, "conv2d_backward_weight_bias dw, dy blocked");
    expect_bitwise(db_b, db, "conv2d_backward_weight_bias db, dy blocked");
  }
}

// Values in {0, 0.5, 1, 1.5} (ties everywhere, zeros for the ReLU mask) and a few NaNs.
Tensor coarse_with_nans(const Shape& shape, DType dt) {
  static std::mt19937 rng(5);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = rng() % 97 == 0 ? NAN : 0.5 * std::max(static_cast<int>(rng() % 7) - 3, 0);
  return Tensor::from_vector(v, shape, dt);
}

struct PoolCase {
  int64_t N, C, H, W, k, s, p;
  const char* what;
};

TEST(ChannelBlocked, MaxPoolKernelsTakeEveryMixOfLayoutsBitForBit) {
  const PoolCase cases[] = {
      {2, 16, 14, 14, 2, 2, 0, "2x2 exactly tiled (tile kernels when mostly blocked)"},
      {1, 8, 28, 28, 2, 2, 0, "2x2 on a 28x28 plane"},
      {2, 8, 7, 5, 2, 2, 0, "2x2 on an odd plane"},
      {1, 16, 9, 7, 3, 2, 1, "3x3 stride 2 padding 1"},
  };
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : cases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + p.what);
      std::vector<int64_t> attrs{p.k, p.k, p.s, p.s, p.p, p.p};
      Shape x_shape{p.N, p.C, p.H, p.W};
      Shape y_shape{p.N, p.C, (p.H + 2 * p.p - p.k) / p.s + 1, (p.W + 2 * p.p - p.k) / p.s + 1};
      Tensor x = coarse_with_nans(x_shape, dt);
      Tensor y = Tensor::empty(y_shape, dt);
      call_kernel("max_pool2d", {x}, {y}, attrs);
      Tensor dy = ops::randn(y_shape, 0, 1, dt);
      // Each operand NCHW (bit clear) or blocked (bit set), every combination.
      for (int mix = 1; mix < 4; ++mix) {
        bool xb = mix & 1, yb = mix & 2;
        Tensor out = Tensor::empty(yb ? blocked_shape(y_shape) : y_shape, dt);
        call_kernel("max_pool2d", {xb ? to_blocked(x) : x}, {out}, attrs);
        expect_bitwise(yb ? to_nchw(out) : out, y, "max_pool2d mix " + std::to_string(mix));
      }
      for (const char* kernel : {"max_pool2d_backward", "max_pool2d_backward_relu"}) {
        Tensor dx = Tensor::empty(x_shape, dt);
        call_kernel(kernel, {dy, x, y}, {dx}, attrs);
        for (int mix = 1; mix < 16; ++mix) {
          bool dyb = mix & 1, xb = mix & 2, yb = mix & 4, dxb = mix & 8;
          Tensor out = Tensor::empty(dxb ? blocked_shape(x_shape) : x_shape, dt);
          call_kernel(kernel, {dyb ? to_blocked(dy) : dy, xb ? to_blocked(x) : x, yb ? to_blocked(y) : y}, {out},
                      attrs);
          expect_bitwise(dxb ? to_nchw(out) : out, dx, std::string(kernel) + " mix " + std::to_string(mix));
        }
      }
    }
}

}  // namespace
}  // namespace trainrt
