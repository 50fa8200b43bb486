// Gradients on CUDA: trainrt::gradcheck (central differences against one
// backward) on composite float64 functions whose every op runs on cuda:0, so
// each CUDA backward kernel is checked against calculus, not only against the
// CPU's backward. Not here: op-by-op comparisons with the CPU (the other files).
#include "gpu/gpu_util.h"

namespace trainrt {
namespace {

using test::cuda;

// A float64 leaf on cuda:0 with values in [low, high).
Tensor cuda_leaf(const Shape& shape, double low = -1, double high = 1) {
  Tensor t = ops::rand(shape, low, high, DType::Float64, cuda());
  t.set_requires_grad(true);
  return t;
}

void expect_gradcheck_passes(const char* what, const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs) {
    if (t.defined()) {
      ASSERT_EQ(t.device(), cuda()) << what << ": inputs must live on cuda:0";
    }
  }
  GradcheckResult r = gradcheck(fn, inputs);
  EXPECT_TRUE(r.passed) << what << ": " << r.message;
  EXPECT_GT(r.checked, 0) << what;
}

TEST(GpuGradcheck, MlpWithLogSoftmaxAndNllLoss) {
  REQUIRE_CUDA();
  Tensor target = test::labels(5, 4).to(cuda());
  expect_gradcheck_passes(
      "nll_loss(log_softmax(linear(tanh(linear(x, w1, b1)), w2, b2)))",
      [target](const std::vector<Tensor>& in) {
        Tensor h = ops::tanh(ops::linear(in[0], in[1], in[2]));
        Tensor logp = ops::log_softmax(ops::linear(h, in[3], in[4]), 1);
        return std::vector<Tensor>{ops::nll_loss(logp, target), logp};
      },
      {cuda_leaf({5, 6}), cuda_leaf({7, 6}), cuda_leaf({7}), cuda_leaf({4, 7}), cuda_leaf({4})});
}

TEST(GpuGradcheck, ConvReluPoolChain) {
  REQUIRE_CUDA();
  expect_gradcheck_passes(
      "avg_pool(max_pool(relu(conv2d stride 2 padding 1 groups 2)))",
      [](const std::vector<Tensor>& in) {
        Tensor y = ops::relu(ops::conv2d(in[0], in[1], in[2], {.stride = {2, 1}, .padding = {1, 1}, .groups = 2}));
        y = ops::max_pool2d(y, {.kernel = {2, 2}, .stride = {1, 1}});
        return std::vector<Tensor>{ops::avg_pool2d(y, {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}})};
      },
      {cuda_leaf({2, 4, 7, 6}), cuda_leaf({6, 2, 3, 3}), cuda_leaf({6})});
  expect_gradcheck_passes(
      "conv2d dilation 2 on a transposed input",
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{ops::conv2d(in[0].transpose(2, 3), in[1], Tensor(), {.dilation = {2, 2}})};
      },
      {cuda_leaf({1, 2, 7, 8}), cuda_leaf({3, 2, 2, 2})});
}

TEST(GpuGradcheck, BroadcastingElementwiseAndReductions) {
  REQUIRE_CUDA();
  expect_gradcheck_passes(
      "var(softmax(x) * sigmoid(y) / (z + 2), dims) + max over a dim",
      [](const std::vector<Tensor>& in) {
        Tensor s = ops::div(ops::mul(ops::softmax(in[0], 1), ops::sigmoid(in[1])), ops::add(in[2], 2.0));
        return std::vector<Tensor>{ops::var(s, {0, 2}), ops::max(ops::exp(in[0]), 2), ops::mean(ops::pow(in[2], 3.0))};
      },
      {cuda_leaf({3, 4, 5}), cuda_leaf({4, 1}), cuda_leaf({5}, 0.5, 1.5)});
}

TEST(GpuGradcheck, BatchedMatmulCatAndCrossEntropy) {
  REQUIRE_CUDA();
  Tensor target = test::labels(6, 5).to(cuda());
  expect_gradcheck_passes(
      "cross_entropy(cat(bmm(a, b^T), c).view(6, 5))",
      [target](const std::vector<Tensor>& in) {
        Tensor p = ops::matmul(in[0], in[1].transpose(1, 2));  // (2, 2, 5)
        Tensor logits = ops::cat({p, in[2]}, 1).reshape({6, 5});  // (2, 3, 5) -> (6, 5)
        return std::vector<Tensor>{ops::cross_entropy(logits, target, ops::Reduction::Sum)};
      },
      {cuda_leaf({2, 2, 3}), cuda_leaf({2, 5, 3}), cuda_leaf({2, 1, 5})});
}

TEST(GpuGradcheck, DropoutWithAFixedMask) {
  REQUIRE_CUDA();
  // The mask must be the same in every evaluation: reseed before each.
  expect_gradcheck_passes(
      "dropout(x, 0.3) * x",
      [](const std::vector<Tensor>& in) {
        manual_seed(17);
        return std::vector<Tensor>{ops::mul(ops::dropout(in[0], 0.3), in[0])};
      },
      {cuda_leaf({40})});
}

}  // namespace
}  // namespace trainrt
