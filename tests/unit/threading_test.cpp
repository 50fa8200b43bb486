// Every kernel that splits work over the `threads` setting, at 1, 2 and 3
// threads, in float32 (what training runs) and float64, against the float64
// result computed at one thread (which each op's own test checks against plain
// loops). Sizes are above the kernels' parallel threshold (2^16 elements) and
// operands are strided or broadcast, so every splitting path runs.
#include "test_util.h"
#include "trainrt/dispatch.h"

namespace trainrt {
namespace {

// Inputs drawn once in float64, handed to f in the dtype under test.
using Compute = std::function<Tensor(const std::vector<Tensor>& inputs)>;

struct Tolerance {
  double rtol, atol;  // for float32 against the float64 reference
};

void expect_threads_match_float64(const std::vector<Shape>& shapes, const Compute& f, Tolerance tol) {
  int saved = num_threads();
  manual_seed(11);
  std::vector<Tensor> inputs64;
  for (const Shape& s : shapes) inputs64.push_back(ops::randn(s, 0, 1, DType::Float64));
  auto inputs_as = [&](DType dtype) {
    std::vector<Tensor> out;
    for (const Tensor& t : inputs64) out.push_back(t.to(dtype).contiguous());
    return out;
  };
  set_num_threads(1);
  Tensor reference = f(inputs_as(DType::Float64));
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE("threads=" + std::to_string(threads));
    set_num_threads(threads);
    test::expect_close(f(inputs_as(DType::Float64)), reference, 1e-12, 1e-12);
    test::expect_close(f(inputs_as(DType::Float32)).to(DType::Float64), reference, tol.rtol, tol.atol);
  }
  set_num_threads(saved);
}

TEST(Threading, ElementwiseAndCopy) {
  expect_threads_match_float64({{256, 600}, {600}}, [](const auto& in) {
    Tensor t = ops::relu(ops::add(in[0].t().contiguous().t(), in[1]));  // strided + broadcast operands
    return ops::mul(t.transpose(0, 1).contiguous(), 2.0);              // copy of a transposed view
  }, {1e-6, 1e-6});
}

TEST(Threading, Matmul) {
  expect_threads_match_float64({{300, 400}, {200, 400}}, [](const auto& in) {
    return ops::matmul(in[0], in[1].t());  // (300, 400) x (400, 200), one operand transposed
  }, {1e-4, 1e-4});
}

// x: (8, 16, 28, 28), w: (32, 16, 3, 3), b: (32); which = "y", "dx", "dw" or "db".
Compute conv_part(const std::string& which) {
  return [which](const std::vector<Tensor>& in) {
    ops::Conv2dOptions o;
    o.padding = {1, 1};
    Tensor x = in[0].detach().set_requires_grad(true), w = in[1].detach().set_requires_grad(true);
    Tensor b = in[2].detach().set_requires_grad(true);
    Tensor y = ops::conv2d(x, w, b, o);  // (8, 32, 28, 28)
    if (which == "y") return y;
    ops::sum(ops::mul(y, y)).backward();
    return which == "dx" ? x.grad() : which == "dw" ? w.grad() : b.grad();
  };
}

TEST(Threading, ConvolutionForwardAndBackward) {
  std::vector<Shape> shapes{{8, 16, 28, 28}, {32, 16, 3, 3}, {32}};
  expect_threads_match_float64(shapes, conv_part("y"), {1e-4, 1e-3});
  expect_threads_match_float64(shapes, conv_part("dx"), {1e-3, 1e-2});
  expect_threads_match_float64(shapes, conv_part("dw"), {1e-3, 1e-1});  // sums over 8 x 28 x 28 positions
  expect_threads_match_float64(shapes, conv_part("db"), {1e-3, 1e-1});
}

TEST(Threading, PoolingForwardAndBackward) {
  ops::Pool2dOptions k3;
  k3.kernel = {3, 3};
  k3.stride = {2, 2};
  k3.padding = {1, 1};
  expect_threads_match_float64({{16, 32, 28, 28}}, [k3](const auto& in) {
    Tensor x = in[0].detach().set_requires_grad(true);
    Tensor y = ops::max_pool2d(x);
    Tensor z = ops::avg_pool2d(x, k3);
    ops::add(ops::sum(ops::mul(y, y)), ops::sum(z)).backward();
    return ops::add(x.grad(), ops::sum(z));  // dx of both pools, plus avg's output
  }, {1e-5, 1e-4});
}

TEST(Threading, SoftmaxFamily) {
  expect_threads_match_float64({{512, 300}}, [](const auto& in) {
    return ops::add(ops::softmax(in[0], 1), ops::log_softmax(in[0].t(), 0).t());
  }, {1e-5, 1e-5});
}

TEST(Threading, Reductions) {
  expect_threads_match_float64({{64, 32, 28, 28}}, [](const auto& in) {
    Tensor x = in[0];
    Tensor s = ops::sum(x, {0, 2, 3});             // the conv bias-gradient reduction
    Tensor m = ops::mean(x, {1});                  // (64, 28, 28)
    Tensor v = ops::var(x.flatten(1), {1});        // (64)
    Tensor mx = ops::max(x.flatten(1), 1);         // (64)
    return ops::add(ops::add(ops::sum(m, {1, 2}), v), ops::add(mx, ops::sum(s))).flatten();
  }, {1e-5, 1e-3});
}

TEST(Threading, Optimizers) {
  expect_threads_match_float64({{300, 400}, {300, 400}}, [](const auto& in) {
    Tensor p = in[0].clone(), g = in[1];
    Tensor m = ops::zeros_like(p), v = ops::zeros_like(p);
    ops::adam_step(p, g, m, v, ops::AdamOptions{}, 1);
    ops::adam_step(p, g, m, v, ops::AdamOptions{}, 2);
    Tensor q = in[0].clone(), buf = ops::zeros_like(q);
    ops::SgdOptions sgd;
    sgd.lr = 0.1;
    sgd.momentum = 0.9;
    sgd.weight_decay = 1e-4;
    ops::sgd_step(q, g, buf, sgd, true);
    ops::sgd_step(q, g, buf, sgd, false);
    return ops::add(p, q);
  }, {1e-5, 1e-5});
}

}  // namespace
}  // namespace trainrt
