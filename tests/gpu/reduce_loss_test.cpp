// Reductions, the softmax family and the losses on cuda:0 against the CPU:
// sum/mean/var over every dim combination, max over a dim (values, indices,
// ties, NaN) and its backward, softmax/log_softmax along each dim of wide rows
// (block-sized reductions on the GPU), nll_loss/cross_entropy/mse_loss with
// every reduction, and the bad-label error. Not here: reference values
// (tests/unit/reduce_test.cpp, loss_test.cpp check the CPU).
#include "gpu/gpu_util.h"

namespace trainrt {
namespace {

using test::expect_same_on_cuda;
using test::input;
using test::outputs;
using test::whole_numbers;

const std::vector<std::vector<int64_t>> kDimSets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {0, 1, 2}};

TEST(GpuReductions, SumMeanVarOverEveryDimSetMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const auto& dims : kDimSets)
      for (bool keepdim : {false, true}) {
        std::string what = std::string(dtype_name(dt)) + " dims " + shape_str(dims) + (keepdim ? " keepdim" : "");
        expect_same_on_cuda("sum " + what,
                            [&](const std::vector<Tensor>& in) { return outputs(ops::sum(in[0], dims, keepdim)); },
                            {input({4, 5, 6}, dt)});
        expect_same_on_cuda(
            "sum of permuted " + what,
            [&](const std::vector<Tensor>& in) { return outputs(ops::sum(in[0].permute({2, 0, 1}), dims, keepdim)); },
            {input({5, 6, 4}, dt)});
        expect_same_on_cuda("mean " + what,
                            [&](const std::vector<Tensor>& in) { return outputs(ops::mean(in[0], dims, keepdim)); },
                            {input({4, 5, 6}, dt)});
        for (bool unbiased : {false, true})
          expect_same_on_cuda(
              std::string("var ") + (unbiased ? "unbiased " : "biased ") + what,
              [&](const std::vector<Tensor>& in) { return outputs(ops::var(in[0], dims, unbiased, keepdim)); },
              {input({4, 5, 6}, dt)});
      }
}

TEST(GpuReductions, LargeAndInt64SumsMatchTheCpu) {
  REQUIRE_CUDA();
  // One million positive values: float32 must not lose the sum to accumulation
  // order (the CPU accumulates in double).
  for (DType dt : test::floating_dtypes()) {
    expect_same_on_cuda(std::string("sum of 1M ") + dtype_name(dt),
                        [](const std::vector<Tensor>& in) { return outputs(ops::sum(in[0])); },
                        {input({1000, 1000}, dt, 0, 1)});
    expect_same_on_cuda(std::string("column sums of (1000, 1000) ") + dtype_name(dt),
                        [](const std::vector<Tensor>& in) { return outputs(ops::sum(in[0], {0})); },
                        {input({1000, 1000}, dt, 0, 1)});
  }
  expect_same_on_cuda("int64 sum",
                      [](const std::vector<Tensor>& in) { return outputs(ops::sum(in[0], {1})); },
                      {whole_numbers({30, 4000}, 1000, DType::Int64)});
}

TEST(GpuReductions, MaxOverADimMatchesTheCpuWithTiesAndBackward) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8})
    for (int64_t dim : {0, 1, -1})
      for (bool keepdim : {false, true}) {
        std::string what = std::string(dtype_name(dt)) + " dim " + std::to_string(dim) + (keepdim ? " keepdim" : "");
        // Whole numbers 0..4: ties, where the first index must win on both devices.
        Tensor ties = whole_numbers({6, 7, 5}, 5, dt);
        if (is_floating(dt)) ties.set_requires_grad(true);
        expect_same_on_cuda(
            "max_dim ties " + what,
            [&](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{ops::max(in[0], dim, keepdim), ops::argmax(in[0], dim, keepdim)};
            },
            {ties});
        if (!is_floating(dt)) continue;
        expect_same_on_cuda(
            "max_dim transposed " + what,
            [&](const std::vector<Tensor>& in) {
              Tensor x = in[0].transpose(0, 2);
              return std::vector<Tensor>{ops::max(x, dim, keepdim), ops::argmax(x, dim, keepdim)};
            },
            {input({5, 7, 6}, dt)});
      }
  for (DType dt : test::floating_dtypes())
    expect_same_on_cuda(std::string("max over all ") + dtype_name(dt),
                        [](const std::vector<Tensor>& in) { return outputs(ops::max(in[0])); },
                        {input({33, 65}, dt)});
}

TEST(GpuReductions, NanIsTheMaximumAsOnTheCpu) {
  REQUIRE_CUDA();
  double nan = std::nan("");
  Tensor x = Tensor::from_vector({1, nan, 3, 2, 5, 4, nan, nan, 0}, {3, 3}, DType::Float64);
  for (int64_t dim : {0, 1})
    expect_same_on_cuda("max_dim with NaN dim " + std::to_string(dim),
                        [dim](const std::vector<Tensor>& in) {
                          return std::vector<Tensor>{ops::max(in[0], dim), ops::argmax(in[0], dim)};
                        },
                        {x}, {.tol = 0, .backward = false});
}

TEST(GpuSoftmax, SoftmaxAndLogSoftmaxAlongEveryDimMatchTheCpu) {
  REQUIRE_CUDA();
  const std::vector<Shape> shapes = {{5, 7}, {8, 1000}, {3, 4, 130}, {2, 4097}};
  for (DType dt : test::floating_dtypes())
    for (const Shape& shape : shapes)
      for (int64_t dim = -1; dim < static_cast<int64_t>(shape.size()); ++dim) {
        std::string what = std::string(dtype_name(dt)) + " " + shape_str(shape) + " dim " + std::to_string(dim);
        // Range +-30: exp overflows float32 without the max subtraction.
        expect_same_on_cuda("softmax " + what,
                            [dim](const std::vector<Tensor>& in) { return outputs(ops::softmax(in[0], dim)); },
                            {input(shape, dt, -30, 30)});
        expect_same_on_cuda("log_softmax " + what,
                            [dim](const std::vector<Tensor>& in) { return outputs(ops::log_softmax(in[0], dim)); },
                            {input(shape, dt, -30, 30)});
      }
  for (DType dt : test::floating_dtypes())
    expect_same_on_cuda(std::string("log_softmax of transposed ") + dtype_name(dt),
                        [](const std::vector<Tensor>& in) { return outputs(ops::log_softmax(in[0].t(), 1)); },
                        {input({9, 4}, dt, -3, 3)});
}

TEST(GpuLosses, NllCrossEntropyAndMseWithEveryReductionMatchTheCpu) {
  REQUIRE_CUDA();
  using ops::Reduction;
  const std::vector<std::pair<const char*, Reduction>> reductions = {
      {"none", Reduction::None}, {"mean", Reduction::Mean}, {"sum", Reduction::Sum}};
  for (DType dt : test::floating_dtypes())
    for (auto [n, c] : {std::pair<int64_t, int64_t>{6, 10}, {64, 1000}, {1, 3}})
      for (const auto& [rname, reduction] : reductions) {
        std::string what = std::string(dtype_name(dt)) + " (" + std::to_string(n) + ", " + std::to_string(c) + ") " + rname;
        Tensor target = test::labels(n, c);
        expect_same_on_cuda(
            "nll_loss " + what,
            [reduction = reduction](const std::vector<Tensor>& in) {
              return outputs(ops::nll_loss(ops::log_softmax(in[0], 1), in[1], reduction));
            },
            {input({n, c}, dt, -3, 3), target});
        expect_same_on_cuda(
            "cross_entropy " + what,
            [reduction = reduction](const std::vector<Tensor>& in) {
              return outputs(ops::cross_entropy(in[0], in[1], reduction));
            },
            {input({n, c}, dt, -3, 3), target});
        expect_same_on_cuda(
            "mse_loss " + what,
            [reduction = reduction](const std::vector<Tensor>& in) {
              return outputs(ops::mse_loss(in[0], in[1], reduction));
            },
            {input({n, c}, dt), input({n, c}, dt)});
      }
}

TEST(GpuLosses, ALabelOutOfRangeFailsNamingItAsOnTheCpu) {
  REQUIRE_CUDA();
  Tensor logp = ops::log_softmax(ops::rand({4, 10}, -1, 1, DType::Float32, test::cuda()), 1);
  Tensor target = Tensor::from_vector({1, 2, 12, 3}, {4}, DType::Int64).to(test::cuda());
  EXPECT_ERROR_CONTAINS(ops::nll_loss(logp, target).item(), "label 12 at index 2 out of range [0, 10)");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logp, target).item(), "cross_entropy: label 12");
}

}  // namespace
}  // namespace trainrt
