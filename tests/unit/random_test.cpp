// Seeded randomness: reproducibility per seed, statistics of large draws
// (uniform, normal, kaiming_uniform_), generator advance between draws, and
// dropout (kept fraction, 1/(1-p) scaling, gradient through the mask, eval mode).
#include <cmath>

#include "reference.h"
#include "test_util.h"
#include "trainrt/kernel_math.h"

namespace trainrt {
namespace {

using test::check_gradients;
using test::expect_close;
using test::leaf;
using test::random_tensor;

struct Stats {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};

Stats stats_of(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  Stats s;
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}

TEST(Random, SameSeedSameValuesDifferentSeedDifferentValues) {
  manual_seed(123);
  std::vector<double> a = ops::rand({100}).to_vector();
  std::vector<double> a2 = ops::randn({50}).to_vector();
  manual_seed(123);
  std::vector<double> b = ops::rand({100}).to_vector();
  std::vector<double> b2 = ops::randn({50}).to_vector();
  manual_seed(124);
  std::vector<double> c = ops::rand({100}).to_vector();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a2, b2);
  EXPECT_NE(a, c);
}

TEST(Random, ConsecutiveDrawsDiffer) {
  manual_seed(5);
  EXPECT_NE(ops::rand({20}).to_vector(), ops::rand({20}).to_vector());
  EXPECT_NE(ops::randn({20}).to_vector(), ops::randn({20}).to_vector());
}

TEST(Random, DrawDependsOnSeedAndOffsetOnly) {
  // one draw of 10 equals the first 10 of a fresh draw from the same offset
  manual_seed(9);
  std::vector<double> whole = ops::rand({10}, 0, 1, DType::Float64).to_vector();
  manual_seed(9);
  Tensor m = Tensor::empty({5, 2}, DType::Float64);
  ops::uniform_(m, 0, 1);
  EXPECT_EQ(m.to_vector(), whole);
}

TEST(Random, UniformRangeMeanAndStd) {
  manual_seed(1);
  Tensor x = ops::rand({200000}, -2, 4);
  Stats s = stats_of(x);
  EXPECT_GE(s.min, -2);
  EXPECT_LT(s.max, 4);
  EXPECT_NEAR(s.mean, 1.0, 0.02);                // (low + high) / 2
  EXPECT_NEAR(s.std, 6 / std::sqrt(12.0), 0.02); // (high - low) / sqrt(12)
}

TEST(Random, NormalMeanAndStd) {
  manual_seed(2);
  Tensor x = ops::randn({200000}, 3, 0.5, DType::Float64);
  Stats s = stats_of(x);
  EXPECT_NEAR(s.mean, 3.0, 0.01);
  EXPECT_NEAR(s.std, 0.5, 0.01);
  // about 68.3% within one std
  int64_t inside = 0;
  for (double v : x.to_vector()) inside += std::abs(v - 3) < 0.5;
  EXPECT_NEAR(static_cast<double>(inside) / 200000, 0.6827, 0.01);
}

TEST(Random, KaimingUniformBound) {
  manual_seed(3);
  Tensor w = Tensor::empty({256, 100});
  ops::kaiming_uniform_(w);
  // a = sqrt(5): gain = sqrt(2 / 6), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
  double bound = 1 / std::sqrt(100.0);
  Stats s = stats_of(w);
  EXPECT_GE(s.min, -bound);
  EXPECT_LE(s.max, bound);
  EXPECT_NEAR(s.std, 2 * bound / std::sqrt(12.0), 0.002);
  Tensor vec = Tensor::empty({4});
  EXPECT_ERROR_CONTAINS(ops::kaiming_uniform_(vec), "kaiming_uniform_: needs at least 2 dims");
}

TEST(Random, FillsRefuseIntegersAndBadArguments) {
  Tensor i = Tensor::empty({3}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::uniform_(i, 0, 1), "uniform_: needs a floating tensor, got int64");
  Tensor f = Tensor::empty({3});
  EXPECT_ERROR_CONTAINS(ops::uniform_(f, 2, 1), "uniform_: low 2 > high 1");
  EXPECT_ERROR_CONTAINS(ops::normal_(f, 0, -1), "normal_: std must be >= 0");
}

TEST(Dropout, KeepsExpectedFractionAndScales) {
  manual_seed(11);
  Tensor x = random_tensor({100000}, 0.5, 1.5);  // never zero
  for (double p : {0.1, 0.5, 0.8}) {
    SCOPED_TRACE(p);
    Tensor y = ops::dropout(x, p);
    std::vector<double> xv = x.to_vector(), yv = y.to_vector();
    int64_t kept = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      if (yv[i] == 0) continue;
      ++kept;
      ASSERT_NEAR(yv[i], xv[i] / (1 - p), 1e-12) << "at " << i;
    }
    EXPECT_NEAR(static_cast<double>(kept) / xv.size(), 1 - p, 0.01);
  }
}

TEST(Dropout, IdentityInEvalModeOrWithPZero) {
  Tensor x = random_tensor({4, 5});
  Tensor y = ops::dropout(x, 0.5, /*training=*/false);
  EXPECT_TRUE(y.same_storage(x));
  EXPECT_EQ(y.to_vector(), x.to_vector());
  EXPECT_EQ(ops::dropout(x, 0).to_vector(), x.to_vector());
  EXPECT_EQ(ops::dropout(x, 1).to_vector(), std::vector<double>(20, 0.0));
}

TEST(Dropout, SeededAndWorksOnViews) {
  Tensor x = random_tensor({6, 4}, 1, 2);
  manual_seed(21);
  std::vector<double> a = ops::dropout(x, 0.5).to_vector();
  manual_seed(21);
  std::vector<double> b = ops::dropout(x, 0.5).to_vector();
  std::vector<double> c = ops::dropout(x, 0.5).to_vector();
  EXPECT_EQ(a, b);
  EXPECT_NE(b, c);  // the generator advanced
  // a transposed input drops by logical position with the same mask
  manual_seed(21);
  Tensor xt = x.t().contiguous().t();  // same values as x, transposed storage
  EXPECT_EQ(ops::dropout(xt, 0.5).to_vector(), a);
}

TEST(Dropout, GradientIsTheMask) {
  // reseeding inside f keeps the mask fixed across finite-difference evaluations
  check_gradients([](const std::vector<Tensor>& in) {
    manual_seed(31);
    return ops::dropout(in[0], 0.4);
  }, {leaf({4, 5})});
  Tensor x = leaf({50});
  manual_seed(32);
  Tensor y = ops::dropout(x, 0.3);
  ops::sum(y).backward();
  std::vector<double> g = x.grad().to_vector(), yv = y.to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], yv[i] == 0 ? 0 : 1 / 0.7, 1e-12);
}

TEST(Dropout, RejectsBadP) {
  EXPECT_ERROR_CONTAINS(ops::dropout(random_tensor({3}), 1.5), "dropout: p must be in [0, 1], got 1.5");
  EXPECT_ERROR_CONTAINS(ops::dropout(random_tensor({3}), -0.1), "dropout: p must be in [0, 1]");
}

TEST(Random, NormalAfterAnOddDrawUsesFreshCounters) {
  // rand({1}) takes counter 0; the normal draw after it must not reuse it as
  // its first uniform (the pair it reads starts at the next even counter).
  manual_seed(77);
  double u = ops::rand({1}, 0, 1, DType::Float64).item();
  EXPECT_EQ(u, math::uniform01(77, 0));
  double n = ops::randn({1}, 0, 1, DType::Float64).item();
  EXPECT_NE(n, math::normal01(77, 0));
  EXPECT_EQ(n, math::normal01(77, 1));
  // and the draw after that starts past every counter the normal one used
  double u2 = ops::rand({1}, 0, 1, DType::Float64).item();
  EXPECT_EQ(u2, math::uniform01(77, 4));
}

TEST(Random, KaimingUniformOnAnEmptyTensorIsANoOp) {
  Tensor w = Tensor::empty({0, 5});
  EXPECT_EQ(ops::kaiming_uniform_(w).numel(), 0);
  Tensor w2 = Tensor::empty({5, 0});
  EXPECT_EQ(ops::kaiming_uniform_(w2).numel(), 0);
}

}  // namespace
}  // namespace trainrt
