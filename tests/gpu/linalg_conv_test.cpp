// matmul, linear, conv2d and pooling on cuda:0 against the CPU, forward and
// backward: plain, batched and broadcast-batched products, transposed and
// narrowed operands (cuBLAS's Trans/NoTrans and leading dimensions), 1-D
// operands, linear with and without bias; convolutions with stride, padding,
// dilation, groups (depthwise included) and odd kernel shapes; max and
// average pooling with padding, strides and ties. Not here: reference values
// (tests/unit/linalg_test.cpp, conv_test.cpp, pool_test.cpp).
#include "gpu/gpu_util.h"

namespace trainrt {
namespace {

using test::expect_same_on_cuda;
using test::input;
using test::outputs;

struct MatmulCase {
  const char* name;
  Shape a, b;
  std::function<Tensor(const Tensor&, const Tensor&)> product;  // views applied to the inputs first
};

std::vector<MatmulCase> matmul_cases() {
  auto plain = [](const Tensor& a, const Tensor& b) { return ops::matmul(a, b); };
  return {
      {"(5, 7) x (7, 3)", {5, 7}, {7, 3}, plain},
      {"a transposed", {7, 5}, {7, 3}, [](const Tensor& a, const Tensor& b) { return ops::matmul(a.t(), b); }},
      {"b transposed", {5, 7}, {3, 7}, [](const Tensor& a, const Tensor& b) { return ops::matmul(a, b.t()); }},
      {"both transposed", {7, 5}, {3, 7}, [](const Tensor& a, const Tensor& b) { return ops::matmul(a.t(), b.t()); }},
      {"narrowed (row stride > cols)", {5, 12}, {9, 3},
       [](const Tensor& a, const Tensor& b) { return ops::matmul(a.narrow(1, 2, 7), b.narrow(0, 1, 7)); }},
      {"batched", {4, 5, 7}, {4, 7, 3}, plain},
      {"batched, b shared (batch stride 0)", {4, 5, 7}, {7, 3}, plain},
      {"batched, a shared", {5, 7}, {4, 7, 3}, plain},
      {"broadcast batch dims", {2, 1, 5, 7}, {3, 7, 4}, plain},
      {"batched transposed", {4, 7, 5}, {4, 3, 7},
       [](const Tensor& a, const Tensor& b) { return ops::matmul(a.transpose(1, 2), b.transpose(1, 2)); }},
      {"vector x matrix", {7}, {7, 3}, plain},
      {"matrix x vector", {5, 7}, {7}, plain},
      {"dot", {7}, {7}, plain},
      {"(96, 130) x (130, 200)", {96, 130}, {130, 200}, plain},
      {"(128, 256) x (64, 256)^T", {128, 256}, {64, 256},
       [](const Tensor& a, const Tensor& b) { return ops::matmul(a, b.t()); }},
  };
}

TEST(GpuLinalg, MatmulInEveryLayoutMatchesTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const MatmulCase& c : matmul_cases())
      expect_same_on_cuda(std::string(c.name) + " " + dtype_name(dt),
                          [&](const std::vector<Tensor>& in) { return outputs(c.product(in[0], in[1])); },
                          {input(c.a, dt), input(c.b, dt)});
}

TEST(GpuLinalg, LinearWithAndWithoutBiasMatchesTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes()) {
    std::string d = dtype_name(dt);
    auto linear = [](const std::vector<Tensor>& in) { return outputs(ops::linear(in[0], in[1], in[2])); };
    expect_same_on_cuda("linear with bias " + d, linear, {input({6, 7}, dt), input({3, 7}, dt), input({3}, dt)});
    expect_same_on_cuda("linear without bias " + d, linear, {input({6, 7}, dt), input({3, 7}, dt), Tensor()});
    expect_same_on_cuda("linear on (2, 6, 7) " + d, linear, {input({2, 6, 7}, dt), input({3, 7}, dt), input({3}, dt)});
    expect_same_on_cuda("linear (64, 784) -> 256 " + d, linear,
                        {input({64, 784}, dt), input({256, 784}, dt, -0.05, 0.05), input({256}, dt)});
    expect_same_on_cuda(
        "linear on a transposed input " + d,
        [](const std::vector<Tensor>& in) { return outputs(ops::linear(in[0].t(), in[1], in[2])); },
        {input({7, 6}, dt), input({3, 7}, dt), input({3}, dt)});
  }
}

struct ConvCase {
  const char* name;
  Shape x, w;  // x: (N, C, H, W), w: (O, C/groups, kH, kW)
  ops::Conv2dOptions options;
  bool bias = true;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"3x3", {2, 3, 8, 9}, {4, 3, 3, 3}, {}},
      {"3x3 no bias", {2, 3, 8, 9}, {4, 3, 3, 3}, {}, false},
      {"stride 2 padding 1", {2, 3, 9, 8}, {5, 3, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {"dilation 2 padding 2", {1, 2, 11, 10}, {3, 2, 3, 3}, {.padding = {2, 2}, .dilation = {2, 2}}},
      {"groups 2", {2, 4, 7, 7}, {6, 2, 3, 3}, {.padding = {1, 1}, .groups = 2}},
      {"depthwise", {2, 4, 7, 6}, {8, 1, 3, 3}, {.stride = {2, 1}, .padding = {1, 1}, .groups = 4}},
      {"asymmetric 3x2 kernel, stride (2, 1), padding (0, 2), dilation (1, 2)", {2, 3, 10, 9}, {4, 3, 3, 2},
       {.stride = {2, 1}, .padding = {0, 2}, .dilation = {1, 2}}},
      {"1x1", {3, 8, 5, 5}, {16, 8, 1, 1}, {}},
      {"seed CNN conv2 (32 -> 64, 14x14)", {4, 32, 14, 14}, {64, 32, 3, 3}, {.padding = {1, 1}}},
  };
}

TEST(GpuConv, Conv2dForwardAndBackwardMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const ConvCase& c : conv_cases()) {
      Tensor bias = c.bias ? input({c.w[0]}, dt) : Tensor();
      expect_same_on_cuda(std::string(c.name) + " " + dtype_name(dt),
                          [&](const std::vector<Tensor>& in) { return outputs(ops::conv2d(in[0], in[1], in[2], c.options)); },
                          {input(c.x, dt), input(c.w, dt, -0.5, 0.5), bias});
    }
}

TEST(GpuConv, Conv2dOnAChannelsLastViewMatchesTheCpu) {
  REQUIRE_CUDA();
  // x stored as (N, H, W, C) and permuted to (N, C, H, W): the runtime makes it contiguous.
  for (DType dt : test::floating_dtypes())
    expect_same_on_cuda(std::string("channels-last x ") + dtype_name(dt),
                        [](const std::vector<Tensor>& in) {
                          return outputs(ops::conv2d(in[0].permute({0, 3, 1, 2}), in[1], in[2], {.padding = {1, 1}}));
                        },
                        {input({2, 6, 5, 3}, dt), input({4, 3, 3, 3}, dt), input({4}, dt)});
}

struct PoolCase {
  const char* name;
  Shape x;
  ops::Pool2dOptions options;
};

std::vector<PoolCase> pool_cases() {
  return {
      {"2x2", {2, 3, 8, 8}, {}},
      {"2x2 odd size", {2, 3, 9, 7}, {}},
      {"3x3 stride 2 padding 1", {2, 3, 9, 8}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}},
      {"3x2 stride (1, 2)", {1, 4, 7, 8}, {.kernel = {3, 2}, .stride = {1, 2}}},
      {"3x3 stride 1 padding 1 (overlapping windows)", {2, 2, 6, 6}, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}},
      {"3x3 stride 2 padding 1 count_include_pad=false", {2, 3, 9, 8},
       {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false}},
  };
}

TEST(GpuPool, MaxAndAvgPoolForwardAndBackwardMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const PoolCase& c : pool_cases()) {
      std::string what = std::string(c.name) + " " + dtype_name(dt);
      if (c.options.count_include_pad)  // max_pool2d ignores the flag: one run is enough
        expect_same_on_cuda("max_pool2d " + what,
                            [&](const std::vector<Tensor>& in) { return outputs(ops::max_pool2d(in[0], c.options)); },
                            {input(c.x, dt)});
      expect_same_on_cuda("avg_pool2d " + what,
                          [&](const std::vector<Tensor>& in) { return outputs(ops::avg_pool2d(in[0], c.options)); },
                          {input(c.x, dt)});
    }
}

TEST(GpuPool, MaxPoolTiesSendTheGradientToTheFirstMaximumAsOnTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes()) {
    Tensor ties = test::whole_numbers({2, 3, 8, 8}, 3, dt);  // 0..2: most windows tie
    ties.set_requires_grad(true);
    for (const PoolCase& c : pool_cases())
      if (c.options.count_include_pad)
        expect_same_on_cuda(std::string("max_pool2d ties ") + c.name + " " + dtype_name(dt),
                            [&](const std::vector<Tensor>& in) { return outputs(ops::max_pool2d(in[0], c.options)); },
                            {ties});
  }
}

}  // namespace
}  // namespace trainrt
