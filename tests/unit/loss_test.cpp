// Softmax family and losses: forward against plain-loop float64 references on
// random inputs (contiguous, transposed, narrowed), finite-difference gradients,
// and the one-line errors a user sees for bad labels and shapes.
#include <cmath>

#include "reference.h"
#include "test_util.h"

namespace trainrt {
namespace {

using test::build;
using test::check_gradients;
using test::expect_close;
using test::Index;
using test::leaf;
using test::random_tensor;
using test::Ref;

// Reference log_softmax (or softmax) of x along dim, with plain loops.
Tensor ref_softmax(const Tensor& x, int64_t dim, bool log) {
  Ref r(x);
  return build(x.sizes(), [&](const Index& idx) {
    Index j = idx;
    double m = -INFINITY;
    for (j[dim] = 0; j[dim] < x.size(dim); ++j[dim]) m = std::max(m, r(j));
    double s = 0;
    for (j[dim] = 0; j[dim] < x.size(dim); ++j[dim]) s += std::exp(r(j) - m);
    return log ? r(idx) - m - std::log(s) : std::exp(r(idx) - m) / s;
  });
}

// Random int64 labels in [0, classes).
Tensor random_labels(int64_t n, int64_t classes) {
  Tensor u = ops::rand({n}, 0, static_cast<double>(classes), DType::Float64);
  std::vector<double> v = u.to_vector();
  for (double& x : v) x = std::floor(x);
  return Tensor::from_vector(v, {n}, DType::Int64);
}

// Reference nll: per-sample -logp[i, t_i], then none/mean/sum.
Tensor ref_nll(const Tensor& logp, const Tensor& target, ops::Reduction reduction) {
  Ref lp(logp), t(target);
  int64_t n = logp.size(0);
  std::vector<double> per(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    per[i] = -lp({i, static_cast<int64_t>(t({i}))});
    total += per[i];
  }
  if (reduction == ops::Reduction::None) return Tensor::from_vector(per, {n}, DType::Float64);
  return Tensor::from_vector({reduction == ops::Reduction::Mean ? total / n : total}, {}, DType::Float64);
}

TEST(LogSoftmax, ForwardMatchesReferenceAlongEachDim) {
  Tensor x = random_tensor({3, 4, 5}, -3, 3);
  for (int64_t dim : {0, 1, 2}) expect_close(ops::log_softmax(x, dim), ref_softmax(x, dim, true), 1e-12, 1e-12);
  expect_close(ops::log_softmax(x, -1), ref_softmax(x, 2, true), 1e-12, 1e-12);
}

TEST(LogSoftmax, ForwardOnTransposedAndNarrowedInputs) {
  Tensor base = random_tensor({6, 5}, -2, 2);
  Tensor xt = base.t();                 // (5, 6), strides (1, 5)
  Tensor xn = base.narrow(1, 1, 3);     // (6, 3), row stride 5
  expect_close(ops::log_softmax(xt, -1), ref_softmax(xt, 1, true), 1e-12, 1e-12);
  expect_close(ops::log_softmax(xt, 0), ref_softmax(xt, 0, true), 1e-12, 1e-12);
  expect_close(ops::log_softmax(xn, 1), ref_softmax(xn, 1, true), 1e-12, 1e-12);
}

TEST(LogSoftmax, StableForLargeLogits) {
  Tensor x = Tensor::from_vector({1000, 1001, 1002, -1000, 0, 1000}, {2, 3}, DType::Float32);
  Tensor y = ops::log_softmax(x, 1);
  for (double v : y.to_vector()) EXPECT_TRUE(std::isfinite(v)) << y.str();
  expect_close(y, ref_softmax(x.to(DType::Float64), 1, true), 1e-5, 1e-5);
}

TEST(LogSoftmax, Float32MatchesFloat64Reference) {
  Tensor x = random_tensor({8, 10}, -5, 5);
  expect_close(ops::log_softmax(x.to(DType::Float32)), ref_softmax(x, 1, true), 1e-5, 1e-5);
}

TEST(LogSoftmax, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], -1); }, {leaf({3, 5}, -2, 2)});
  check_gradients([](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], 0); }, {leaf({4, 3}, -2, 2)});
  check_gradients([](const std::vector<Tensor>& in) { return ops::log_softmax(in[0], 1); }, {leaf({2, 3, 4}, -2, 2)});
}

TEST(LogSoftmax, GradientThroughNonContiguousInput) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::log_softmax(in[0].t(), -1); }, {leaf({5, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::log_softmax(in[0].narrow(1, 1, 3), 1); },
                  {leaf({4, 6})});
}

TEST(Softmax, ForwardMatchesReferenceAndRowsSumToOne) {
  Tensor x = random_tensor({4, 7}, -3, 3);
  Tensor y = ops::softmax(x, -1);
  expect_close(y, ref_softmax(x, 1, false), 1e-12, 1e-12);
  expect_close(ops::sum(y, {1}), ops::ones({4}, DType::Float64), 1e-12, 1e-12);
  expect_close(ops::softmax(x, 0), ref_softmax(x, 0, false), 1e-12, 1e-12);
  Tensor xt = x.t();  // (7, 4) non-contiguous
  expect_close(ops::softmax(xt, 1), ref_softmax(xt, 1, false), 1e-12, 1e-12);
}

TEST(Softmax, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::softmax(in[0], -1); }, {leaf({3, 4}, -2, 2)});
  check_gradients([](const std::vector<Tensor>& in) { return ops::softmax(in[0].t(), 1); }, {leaf({4, 3}, -2, 2)});
  check_gradients([](const std::vector<Tensor>& in) { return ops::softmax(in[0], 1); }, {leaf({2, 3, 2}, -2, 2)});
}

TEST(Softmax, RefusesIntegerInput) {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::softmax(x), "softmax: needs a floating tensor, got int64");
  EXPECT_ERROR_CONTAINS(ops::log_softmax(random_tensor({2, 3}), 2), "log_softmax: dim 2 out of range");
}

TEST(NllLoss, ForwardMatchesReferenceForEachReduction) {
  Tensor logp = ops::log_softmax(random_tensor({6, 4}, -2, 2));
  Tensor target = random_labels(6, 4);
  for (auto r : {ops::Reduction::None, ops::Reduction::Mean, ops::Reduction::Sum})
    expect_close(ops::nll_loss(logp, target, r), ref_nll(logp, target, r), 1e-12, 1e-12);
  Tensor logp_t = random_tensor({4, 6}).t();  // (6, 4) non-contiguous; nll takes any values
  expect_close(ops::nll_loss(logp_t, target), ref_nll(logp_t, target, ops::Reduction::Mean), 1e-12, 1e-12);
}

TEST(NllLoss, GradientMatchesFiniteDifferences) {
  Tensor target = random_labels(5, 3);
  for (auto r : {ops::Reduction::None, ops::Reduction::Mean, ops::Reduction::Sum})
    check_gradients([&](const std::vector<Tensor>& in) { return ops::nll_loss(in[0], target, r); }, {leaf({5, 3})});
}

TEST(NllLoss, BadLabelNamesValueIndexAndRange) {
  Tensor logp = random_tensor({3, 4});
  Tensor target = Tensor::from_vector({1, 0, -1}, {3}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::nll_loss(logp, target), "nll_loss: label -1 at index 2 out of range [0, 4)");
}

TEST(CrossEntropy, ForwardMatchesLogSumExpReference) {
  Tensor logits = random_tensor({8, 5}, -4, 4);
  Tensor target = random_labels(8, 5);
  Ref x(logits), t(target);
  double total = 0;
  std::vector<double> per;
  for (int64_t i = 0; i < 8; ++i) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < 5; ++c) m = std::max(m, x({i, c}));
    for (int64_t c = 0; c < 5; ++c) s += std::exp(x({i, c}) - m);
    per.push_back(m + std::log(s) - x({i, static_cast<int64_t>(t({i}))}));
    total += per.back();
  }
  expect_close(ops::cross_entropy(logits, target), Tensor::from_vector({total / 8}, {}, DType::Float64), 1e-12, 1e-12);
  expect_close(ops::cross_entropy(logits, target, ops::Reduction::Sum), Tensor::from_vector({total}, {}, DType::Float64),
               1e-12, 1e-12);
  expect_close(ops::cross_entropy(logits, target, ops::Reduction::None), Tensor::from_vector(per, {8}, DType::Float64),
               1e-12, 1e-12);
  expect_close(ops::cross_entropy(logits.to(DType::Float32), target), Tensor::from_vector({total / 8}, {}), 1e-5, 1e-5);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor target = random_labels(4, 6);
  check_gradients([&](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], target); }, {leaf({4, 6}, -3, 3)});
  // transposed logits: (6, 4) leaf viewed as (4, 6)
  check_gradients([&](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0].t(), target); },
                  {leaf({6, 4}, -3, 3)});
  check_gradients(
      [&](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], target, ops::Reduction::None); },
      {leaf({4, 6}, -3, 3)});
}

TEST(CrossEntropy, GradientIsSoftmaxMinusOneHotOverN) {
  Tensor logits = leaf({3, 4}, -2, 2);
  Tensor target = Tensor::from_vector({2, 0, 3}, {3}, DType::Int64);
  ops::cross_entropy(logits, target).backward();
  Tensor p = ref_softmax(logits.detach(), 1, false);
  Ref pr(p), tr(target);
  Tensor expected = build({3, 4}, [&](const Index& i) { return (pr(i) - (tr({i[0]}) == i[1] ? 1.0 : 0.0)) / 3; });
  expect_close(logits.grad(), expected, 1e-12, 1e-12);
}

TEST(CrossEntropy, LabelOutOfRangeNamesLabelIndexAndRange) {
  Tensor logits = random_tensor({5, 10});
  Tensor target = Tensor::from_vector({1, 2, 3, 12, 4}, {5}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(logits, target), "cross_entropy: label 12 at index 3 out of range [0, 10)");
}

TEST(CrossEntropy, ShapeAndDtypeErrorsNameBothShapes) {
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(random_tensor({64, 10}), random_labels(32, 10)),
                        "cross_entropy: logits (64, 10) and target (32) - batch sizes differ");
  Tensor float_labels = Tensor::from_vector({1, 2}, {2});
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(random_tensor({2, 10}), float_labels), "convert labels with :long()");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(random_tensor({2, 3, 4}), random_labels(2, 3)),
                        "cross_entropy: logits must be (N, C), got (2, 3, 4)");
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(random_tensor({2, 3}), random_labels(2, 3).view({2, 1})),
                        "cross_entropy: target must be (N) class indices, got (2, 1)");
}

TEST(MseLoss, ForwardMatchesReferenceForEachReduction) {
  Tensor a = random_tensor({3, 4}), b = random_tensor({4, 3}).t();  // b non-contiguous
  Ref ra(a), rb(b);
  Tensor none = build({3, 4}, [&](const Index& i) { return (ra(i) - rb(i)) * (ra(i) - rb(i)); });
  double total = 0;
  for (double v : none.to_vector()) total += v;
  expect_close(ops::mse_loss(a, b, ops::Reduction::None), none, 1e-12, 1e-12);
  expect_close(ops::mse_loss(a, b, ops::Reduction::Sum), Tensor::from_vector({total}, {}, DType::Float64), 1e-12, 1e-12);
  expect_close(ops::mse_loss(a, b), Tensor::from_vector({total / 12}, {}, DType::Float64), 1e-12, 1e-12);
}

TEST(MseLoss, GradientMatchesFiniteDifferences) {
  for (auto r : {ops::Reduction::None, ops::Reduction::Mean, ops::Reduction::Sum})
    check_gradients([r](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], in[1].narrow(1, 1, 3), r); },
                    {leaf({2, 3}), leaf({2, 5})});
}

TEST(MseLoss, ShapeMismatchNamesBothShapes) {
  EXPECT_ERROR_CONTAINS(ops::mse_loss(random_tensor({64, 1}), random_tensor({64})),
                        "mse_loss: input (64, 1) and target (64) - shapes differ");
}

}  // namespace
}  // namespace trainrt
