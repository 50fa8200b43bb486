// Reductions: sum/mean/var over dim sets, max/argmax along a dim, sum_to.
// Forward against plain-loop float64 references (contiguous, transposed and
// narrowed inputs), finite-difference gradients, and error messages.
#include <cmath>

#include "reference.h"
#include "test_util.h"

namespace trainrt {
namespace {

using test::build;
using test::check_gradients;
using test::expect_close;
using test::for_each_index;
using test::Index;
using test::leaf;
using test::random_tensor;
using test::Ref;

bool contains(const std::vector<int64_t>& dims, int64_t d) {
  for (int64_t x : dims)
    if (x == d) return true;
  return false;
}

// Output shape of reducing `dims` (sorted, non-negative; empty = all).
Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(in.size()); ++d) {
    bool reduced = dims.empty() || contains(dims, d);
    if (!reduced) out.push_back(in[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Reference reduction: applies `combine` over the elements of each group, then `finish(acc, count)`.
Tensor ref_reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, double init,
                  const std::function<double(double, double)>& combine,
                  const std::function<double(double, int64_t)>& finish) {
  Shape kshape = reduced_shape(x.sizes(), dims, true);
  std::vector<double> acc(static_cast<size_t>(numel_of(kshape)), init);
  std::vector<int64_t> count(acc.size(), 0);
  Ref r(x);
  for_each_index(x.sizes(), [&](const Index& idx) {
    int64_t f = 0;
    for (size_t d = 0; d < idx.size(); ++d) f = f * kshape[d] + (kshape[d] == 1 ? 0 : idx[d]);
    acc[f] = combine(acc[f], r(idx));
    count[f]++;
  });
  for (size_t i = 0; i < acc.size(); ++i) acc[i] = finish(acc[i], count[i]);
  return Tensor::from_vector(acc, reduced_shape(x.sizes(), dims, keepdim), DType::Float64);
}

Tensor ref_sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  return ref_reduce(x, dims, keepdim, 0, [](double a, double v) { return a + v; }, [](double a, int64_t) { return a; });
}
Tensor ref_mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  return ref_reduce(x, dims, keepdim, 0, [](double a, double v) { return a + v; },
                    [](double a, int64_t n) { return a / static_cast<double>(n); });
}
Tensor ref_max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  return ref_reduce(x, dims, keepdim, -INFINITY, [](double a, double v) { return std::max(a, v); },
                    [](double a, int64_t) { return a; });
}

// Reference variance: two passes with the reference mean.
Tensor ref_var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim = false) {
  Tensor m = ref_mean(x, dims, true);
  Ref rm(m), r(x);
  Tensor sq = build(x.sizes(), [&](const Index& i) {
    double d = r(i) - rm.broadcast_at(i);
    return d * d;
  });
  return ref_reduce(sq, dims, keepdim, 0, [](double a, double v) { return a + v; },
                    [unbiased](double a, int64_t n) { return a / static_cast<double>(unbiased ? n - 1 : n); });
}

TEST(Sum, ForwardMatchesReferenceOverDimSets) {
  Tensor x = random_tensor({3, 4, 5});
  expect_close(ops::sum(x), ref_sum(x, {}), 1e-12, 1e-12);
  expect_close(ops::sum(x, {1}), ref_sum(x, {1}), 1e-12, 1e-12);
  expect_close(ops::sum(x, {0, 2}), ref_sum(x, {0, 2}), 1e-12, 1e-12);
  expect_close(ops::sum(x, {-1}, true), ref_sum(x, {2}, true), 1e-12, 1e-12);
  expect_close(ops::sum(x, {2, 0}, true), ref_sum(x, {0, 2}, true), 1e-12, 1e-12);
}

TEST(Sum, ForwardOnTransposedAndNarrowedInputs) {
  Tensor base = random_tensor({5, 6, 3});
  Tensor xt = base.permute({2, 0, 1});        // (3, 5, 6) non-contiguous
  Tensor xn = base.narrow(1, 2, 3);           // (5, 3, 3) sliced
  for (const Tensor& x : {xt, xn}) {
    expect_close(ops::sum(x), ref_sum(x, {}), 1e-12, 1e-12);
    expect_close(ops::sum(x, {0}), ref_sum(x, {0}), 1e-12, 1e-12);
    expect_close(ops::sum(x, {1, 2}, true), ref_sum(x, {1, 2}, true), 1e-12, 1e-12);
  }
}

TEST(Sum, Float32AccumulatesAccurately) {
  Tensor x = random_tensor({1000, 3}, 0, 1);
  expect_close(ops::sum(x.to(DType::Float32), {0}), ref_sum(x.to(DType::Float32), {0}), 1e-6, 1e-6);
  EXPECT_EQ(ops::sum(x.to(DType::Float32)).dtype(), DType::Float32);
}

TEST(Sum, IntegersSumAsInt64) {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::UInt8);
  Tensor s = ops::sum(x, {1});
  EXPECT_EQ(s.dtype(), DType::Int64);
  EXPECT_EQ(s.to_vector(), (std::vector<double>{6, 15}));
}

TEST(Sum, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::sum(in[0]); }, {leaf({2, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::sum(in[0], {0, 2}); }, {leaf({2, 3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::sum(in[0].t(), {1}, true); }, {leaf({3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::sum(in[0].narrow(0, 1, 2), {1}); }, {leaf({4, 3})});
}

TEST(Mean, ForwardMatchesReference) {
  Tensor x = random_tensor({4, 3, 2});
  expect_close(ops::mean(x), ref_mean(x, {}), 1e-12, 1e-12);
  expect_close(ops::mean(x, {1}), ref_mean(x, {1}), 1e-12, 1e-12);
  expect_close(ops::mean(x, {0, 2}, true), ref_mean(x, {0, 2}, true), 1e-12, 1e-12);
  Tensor xt = x.transpose(0, 2);
  expect_close(ops::mean(xt, {2}), ref_mean(xt, {2}), 1e-12, 1e-12);
}

TEST(Mean, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::mean(in[0], {1}); }, {leaf({3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::mean(in[0].t()); }, {leaf({3, 2})});
}

TEST(Mean, RefusesIntegers) {
  EXPECT_ERROR_CONTAINS(ops::mean(Tensor::from_vector({1, 2}, {2}, DType::Int64)), "convert with :float()");
}

TEST(Var, ForwardMatchesReferenceBiasedAndUnbiased) {
  Tensor x = random_tensor({5, 4});
  expect_close(ops::var(x), ref_var(x, {}, true), 1e-12, 1e-12);
  expect_close(ops::var(x, {0}, false), ref_var(x, {0}, false), 1e-12, 1e-12);
  expect_close(ops::var(x, {1}, true, true), ref_var(x, {1}, true, true), 1e-12, 1e-12);
  Tensor xn = x.narrow(1, 1, 3);
  expect_close(ops::var(xn, {0}), ref_var(xn, {0}, true), 1e-12, 1e-12);
}

TEST(Var, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::var(in[0], {1}); }, {leaf({3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::var(in[0].t(), {0}, false); }, {leaf({3, 4})});
}

TEST(Var, NeedsTwoElementsWhenUnbiased) {
  EXPECT_ERROR_CONTAINS(ops::var(random_tensor({3, 1}), {1}), "var: needs at least 2 elements per group");
}

TEST(Max, ValuesAndArgmaxMatchReferenceAlongEachDim) {
  Tensor x = random_tensor({3, 4, 5}, -5, 5);
  Ref r(x);
  for (int64_t dim = 0; dim < 3; ++dim) {
    expect_close(ops::max(x, dim), ref_max(x, {dim}), 0, 0);
    expect_close(ops::max(x, dim, true), ref_max(x, {dim}, true), 0, 0);
    Tensor idx = ops::argmax(x, dim);
    EXPECT_EQ(idx.dtype(), DType::Int64);
    Ref ri(idx);
    for_each_index(idx.sizes(), [&](const Index& o) {
      Index full = o;
      full.insert(full.begin() + dim, 0);
      double best = -INFINITY;
      int64_t best_i = -1;
      for (full[dim] = 0; full[dim] < x.size(dim); ++full[dim])
        if (r(full) > best) best = r(full), best_i = full[dim];
      EXPECT_EQ(ri(o), best_i);
    });
  }
  expect_close(ops::max(x), ref_max(x, {}), 0, 0);
}

TEST(Max, NonContiguousInputsAndIntegers) {
  Tensor base = random_tensor({4, 6}, -5, 5);
  Tensor xt = base.t();              // (6, 4)
  Tensor xn = base.narrow(1, 2, 3);  // (4, 3)
  expect_close(ops::max(xt, 1), ref_max(xt, {1}), 0, 0);
  expect_close(ops::max(xt, 0, true), ref_max(xt, {0}, true), 0, 0);
  expect_close(ops::max(xn, 1), ref_max(xn, {1}), 0, 0);
  Tensor ints = Tensor::from_vector({3, 9, 2, 7, 7, 1}, {2, 3}, DType::Int64);
  EXPECT_EQ(ops::max(ints, 1).to_vector(), (std::vector<double>{9, 7}));
  EXPECT_EQ(ops::argmax(ints, 1).to_vector(), (std::vector<double>{1, 0}));  // first index wins ties
}

TEST(Max, NanPropagates) {
  Tensor x = Tensor::from_vector({1, NAN, 3, 0}, {4}, DType::Float64);
  EXPECT_TRUE(std::isnan(ops::max(x).item()));
  EXPECT_EQ(ops::argmax(x, 0).item(), 1);
}

TEST(Max, GradientMatchesFiniteDifferences) {
  // distinct random values: no ties within eps
  check_gradients([](const std::vector<Tensor>& in) { return ops::max(in[0], 1); }, {leaf({3, 5})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::max(in[0], 0, true); }, {leaf({4, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::max(in[0].t(), 1); }, {leaf({4, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return ops::max(in[0]); }, {leaf({2, 3})});
}

TEST(Max, GradientGoesToTheArgmaxOnly) {
  Tensor x = Tensor::from_vector({1, 5, 2, 8, 3, 4}, {2, 3}, DType::Float64);
  x.set_requires_grad(true);
  ops::sum(ops::max(x, 1)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1, 0, 1, 0, 0}));
}

TEST(Max, EmptyDimIsAnError) {
  EXPECT_ERROR_CONTAINS(ops::max(Tensor::empty({3, 0}, DType::Float32), 1), "max: dim 1 of shape (3, 0) is empty");
  EXPECT_ERROR_CONTAINS(ops::max(random_tensor({2, 3}), 2), "max: dim 2 out of range");
}

TEST(SumTo, ReducesBroadcastDims) {
  Tensor x = random_tensor({2, 3, 4});
  expect_close(ops::sum_to(x, {3, 1}), ref_sum(x, {0, 2}, true).reshape({3, 1}), 1e-12, 1e-12);
  expect_close(ops::sum_to(x, {4}), ref_sum(x, {0, 1}), 1e-12, 1e-12);
  expect_close(ops::sum_to(x, {1, 1, 1}), ref_sum(x, {}, true), 1e-12, 1e-12);
  EXPECT_ERROR_CONTAINS(ops::sum_to(x, {5}), "sum_to: cannot reduce (2, 3, 4) to (5)");
}

TEST(SumTo, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return ops::sum_to(in[0], {3, 1}); }, {leaf({2, 3, 4})});
}

TEST(Reduce, RepeatedDimIsAnError) {
  EXPECT_ERROR_CONTAINS(ops::sum(random_tensor({2, 3}), {1, -1}), "sum: a dim appears twice");
}

TEST(Sum, OverDimZeroOfAZeroDimTensor) {
  // As in PyTorch, dim 0 (or -1) of a scalar names the scalar itself.
  Tensor s = ops::full({}, 2.5, DType::Float64);
  EXPECT_EQ(ops::sum(s, {0}).dim(), 0);
  EXPECT_EQ(ops::sum(s, {0}).item(), 2.5);
  EXPECT_EQ(ops::sum(s, {-1}, true).item(), 2.5);
  EXPECT_EQ(ops::mean(s, {0}).item(), 2.5);
}

}  // namespace
}  // namespace trainrt
