// Tensor views (view, reshape, transpose, permute, narrow, select, expand,
// unsqueeze, squeeze, flatten, contiguous) and creation/copies (fills, arange,
// copy_, to_dtype): values against plain index arithmetic on random inputs,
// storage sharing, finite-difference gradients, and the errors on misuse.
#include <cmath>
#include <limits>

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

TEST(View, ReinterpretsRowMajorOrderAndSharesStorage) {
  Tensor x = random_tensor({2, 6});
  Tensor v = x.view({3, -1});
  EXPECT_EQ(v.sizes(), (Shape{3, 4}));
  EXPECT_TRUE(v.same_storage(x));
  EXPECT_EQ(v.to_vector(), x.to_vector());  // same row-major sequence
  Ref r(x);
  expect_close(x.view({2, 2, 3}), build({2, 2, 3}, [&](const Index& i) { return r({i[0], i[1] * 3 + i[2]}); }), 0, 0);
}

TEST(View, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].view({3, 2}); }, {leaf({2, 3})});
}

TEST(View, RefusesNonContiguousAndBadSizes) {
  EXPECT_ERROR_CONTAINS(random_tensor({2, 3}).t().view({6}), "view: tensor of shape (3, 2) is not contiguous");
  EXPECT_ERROR_CONTAINS(random_tensor({2, 3}).view({4, -1}), "cannot reshape (2, 3)");
  EXPECT_ERROR_CONTAINS(random_tensor({2, 3}).view({-1, -1}), "only one size may be -1");
}

TEST(Reshape, CopiesNonContiguousInputsInLogicalOrder) {
  Tensor base = random_tensor({3, 4});
  Tensor xt = base.t();  // (4, 3)
  Tensor r = xt.reshape({2, 6});
  Ref rb(base);
  expect_close(r, build({2, 6}, [&](const Index& i) {
    int64_t flat = i[0] * 6 + i[1];  // logical order of xt: xt[a][b] = base[b][a]
    return rb({flat % 3, flat / 3});
  }), 0, 0);
  EXPECT_TRUE(base.reshape({12}).same_storage(base));  // contiguous: a view
}

TEST(Reshape, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].reshape({6}); }, {leaf({2, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return in[0].t().reshape({3, 2}); }, {leaf({2, 3})});
}

TEST(Transpose, SwapsIndicesWithoutCopy) {
  Tensor x = random_tensor({2, 3, 4});
  Tensor y = x.transpose(0, 2);
  EXPECT_EQ(y.sizes(), (Shape{4, 3, 2}));
  EXPECT_TRUE(y.same_storage(x));
  EXPECT_FALSE(y.is_contiguous());
  Ref r(x);
  expect_close(y, build({4, 3, 2}, [&](const Index& i) { return r({i[2], i[1], i[0]}); }), 0, 0);
  expect_close(x.transpose(-1, 1), build({2, 4, 3}, [&](const Index& i) { return r({i[0], i[2], i[1]}); }), 0, 0);
}

TEST(Transpose, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].transpose(0, 2); }, {leaf({2, 3, 2})});
}

TEST(Permute, ReordersDims) {
  Tensor x = random_tensor({2, 3, 4});
  Ref r(x);
  expect_close(x.permute({1, 2, 0}), build({3, 4, 2}, [&](const Index& i) { return r({i[2], i[0], i[1]}); }), 0, 0);
  EXPECT_ERROR_CONTAINS(x.permute({0, 0, 1}), "permute: dim 0 repeated");
  EXPECT_ERROR_CONTAINS(x.permute({0, 1}), "permute: got 2 dims for a tensor of shape (2, 3, 4)");
}

TEST(Permute, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].permute({2, 0, 1}); }, {leaf({2, 3, 2})});
}

TEST(Narrow, SlicesAWindowSharingStorage) {
  Tensor x = random_tensor({4, 5});
  Tensor y = x.narrow(1, 1, 3);
  EXPECT_TRUE(y.same_storage(x));
  Ref r(x);
  expect_close(y, build({4, 3}, [&](const Index& i) { return r({i[0], i[1] + 1}); }), 0, 0);
  expect_close(x.narrow(0, -2, 2), build({2, 5}, [&](const Index& i) { return r({i[0] + 2, i[1]}); }), 0, 0);
  // narrowing a transposed view
  expect_close(x.t().narrow(0, 2, 2), build({2, 4}, [&](const Index& i) { return r({i[1], i[0] + 2}); }), 0, 0);
  EXPECT_ERROR_CONTAINS(x.narrow(1, 3, 3), "narrow: range [3, 6) out of bounds for dim 1 of size 5");
}

TEST(Narrow, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].narrow(1, 1, 2); }, {leaf({3, 4})});
  check_gradients([](const std::vector<Tensor>& in) { return in[0].t().narrow(1, 0, 2); }, {leaf({3, 4})});
}

TEST(Select, RemovesTheDim) {
  Tensor x = random_tensor({3, 4});
  Ref r(x);
  expect_close(x.select(0, 1), build({4}, [&](const Index& i) { return r({1, i[0]}); }), 0, 0);
  expect_close(x.select(1, -1), build({3}, [&](const Index& i) { return r({i[0], 3}); }), 0, 0);
  EXPECT_ERROR_CONTAINS(x.select(0, 3), "select: index 3 out of range for dim 0 of size 3");
}

TEST(Select, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].select(1, 2); }, {leaf({3, 4})});
}

TEST(Expand, BroadcastsWithStrideZero) {
  Tensor x = random_tensor({3, 1});
  Tensor y = x.expand({2, 3, 4});
  EXPECT_EQ(y.strides()[0], 0);
  EXPECT_EQ(y.strides()[2], 0);
  Ref r(x);
  expect_close(y, build({2, 3, 4}, [&](const Index& i) { return r({i[1], 0}); }), 0, 0);
  expect_close(x.expand({-1, 5}), build({3, 5}, [&](const Index& i) { return r({i[0], 0}); }), 0, 0);
  EXPECT_ERROR_CONTAINS(x.expand({2, 4}), "expand: cannot expand (3, 1) to (2, 4)");
}

TEST(Expand, GradientSumsOverBroadcastDims) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].expand({2, 3, 4}); }, {leaf({3, 1})});
  check_gradients([](const std::vector<Tensor>& in) { return in[0].t().expand({2, 2, 3}); }, {leaf({3, 2})});
}

TEST(UnsqueezeSqueeze, InsertAndRemoveUnitDims) {
  Tensor x = random_tensor({2, 3});
  EXPECT_EQ(x.unsqueeze(0).sizes(), (Shape{1, 2, 3}));
  EXPECT_EQ(x.unsqueeze(-1).sizes(), (Shape{2, 3, 1}));
  EXPECT_EQ(x.unsqueeze(1).to_vector(), x.to_vector());
  EXPECT_EQ(x.unsqueeze(1).squeeze(1).sizes(), (Shape{2, 3}));
  EXPECT_EQ(x.squeeze(0).sizes(), (Shape{2, 3}));  // not size 1: unchanged
  Tensor xt = x.t().unsqueeze(1);                  // (3, 1, 2) from a transposed view
  Ref r(x);
  expect_close(xt, build({3, 1, 2}, [&](const Index& i) { return r({i[2], i[0]}); }), 0, 0);
}

TEST(UnsqueezeSqueeze, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].unsqueeze(1); }, {leaf({2, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return in[0].squeeze(1); }, {leaf({2, 1, 3})});
}

TEST(Flatten, MergesARangeOfDims) {
  Tensor x = random_tensor({2, 3, 4, 5});
  EXPECT_EQ(x.flatten().sizes(), (Shape{120}));
  EXPECT_EQ(x.flatten(1).sizes(), (Shape{2, 60}));
  EXPECT_EQ(x.flatten(1, 2).sizes(), (Shape{2, 12, 5}));
  EXPECT_EQ(x.flatten(1).to_vector(), x.to_vector());
  Tensor xt = x.transpose(1, 3);  // (2, 5, 4, 3)
  Ref r(x);
  expect_close(xt.flatten(1), build({2, 60}, [&](const Index& i) {
    int64_t a = i[1] / 12, b = (i[1] / 3) % 4, c = i[1] % 3;  // xt[n][a][b][c] = x[n][c][b][a]
    return r({i[0], c, b, a});
  }), 0, 0);
  EXPECT_ERROR_CONTAINS(x.flatten(2, 1), "flatten: start_dim 2 after end_dim 1");
}

TEST(Flatten, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].transpose(0, 2).flatten(1); }, {leaf({2, 3, 2})});
}

TEST(Contiguous, CopiesViewsIntoRowMajorOrder) {
  Tensor x = random_tensor({3, 4});
  EXPECT_TRUE(x.contiguous().same_storage(x));  // already contiguous: itself
  Tensor y = x.t().contiguous();
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_FALSE(y.same_storage(x));
  Ref r(x);
  expect_close(y, build({4, 3}, [&](const Index& i) { return r({i[1], i[0]}); }), 0, 0);
  Tensor c = x.clone();
  EXPECT_FALSE(c.same_storage(x));
  EXPECT_EQ(c.to_vector(), x.to_vector());
}

TEST(Contiguous, GradientMatchesFiniteDifferences) {
  check_gradients([](const std::vector<Tensor>& in) { return in[0].t().contiguous(); }, {leaf({2, 3})});
  check_gradients([](const std::vector<Tensor>& in) { return in[0].narrow(0, 1, 2).clone(); }, {leaf({3, 3})});
}

TEST(Creation, FillsAndRanges) {
  EXPECT_EQ(ops::zeros({2, 2}).to_vector(), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(ops::ones({3}, DType::Int64).to_vector(), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(ops::full({2}, 2.5, DType::Float64).to_vector(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(ops::arange(0, 5).to_vector(), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ops::arange(1, 2, 0.25, DType::Float64).to_vector(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(ops::arange(5, 0, -2, DType::Int64).to_vector(), (std::vector<double>{5, 3, 1}));
  Tensor like = random_tensor({2, 3}).to(DType::Float32);
  Tensor z = ops::zeros_like(like), o = ops::ones_like(like), s = ops::scalar_like(like, 7);
  EXPECT_EQ(z.sizes(), like.sizes());
  EXPECT_EQ(o.dtype(), DType::Float32);
  EXPECT_EQ(o.to_vector(), std::vector<double>(6, 1.0));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item(), 7);
  EXPECT_ERROR_CONTAINS(ops::arange(0, 1, 0), "arange: step must not be zero");
}

TEST(Creation, FillWritesOnlyTheView) {
  Tensor x = random_tensor({3, 4});
  std::vector<double> before = x.to_vector();
  Tensor window = x.t().narrow(0, 1, 2);  // columns 1 and 2 of x
  ops::fill_(window, 9);
  Ref r(x);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(r({i, j}), (j == 1 || j == 2) ? 9 : before[i * 4 + j]);
}

TEST(Creation, InPlaceChangeOfLeafThatRequiresGradIsRefused) {
  Tensor w = leaf({2});
  EXPECT_ERROR_CONTAINS(ops::fill_(w, 0), "fill_: in-place change of a leaf tensor that requires grad");
  NoGradGuard no_grad;
  ops::fill_(w, 3);
  EXPECT_EQ(w.to_vector(), (std::vector<double>{3, 3}));
}

TEST(Copy, BroadcastsConvertsAndWritesThroughViews) {
  Tensor src = random_tensor({4}, -3, 3);  // float64
  Tensor dst = ops::zeros({4, 3}, DType::Float32).t();  // (3, 4) transposed view of float32 storage
  ops::copy_(dst, src);
  Ref rs(src);
  expect_close(dst, build({3, 4}, [&](const Index& i) { return static_cast<float>(rs({i[1]})); }), 0, 0);
  Tensor ints = ops::zeros({4}, DType::Int64);
  ops::copy_(ints, src);  // float -> int truncates toward zero
  expect_close(ints, build({4}, [&](const Index& i) { return std::trunc(rs(i)); }), 0, 0);
}

TEST(ToDtype, ConvertsValues) {
  Tensor x = random_tensor({2, 3}, -5, 5);
  Ref r(x);
  expect_close(x.to(DType::Float32), build({2, 3}, [&](const Index& i) { return static_cast<float>(r(i)); }), 0, 0);
  expect_close(x.t().to(DType::Int64), build({3, 2}, [&](const Index& i) { return std::trunc(r({i[1], i[0]})); }), 0, 0);
  Tensor u = Tensor::from_vector({0, 1, 255}, {3}, DType::UInt8);
  EXPECT_EQ(u.to(DType::Float64).to_vector(), (std::vector<double>{0, 1, 255}));
  EXPECT_EQ(ops::to_dtype(x, DType::Float64).to_vector(), x.to_vector());
}

TEST(ToDtype, GradientFlowsBackInTheSourceDtype) {
  // y = sum(to_float32(x) * w)  =>  dx = w, as float64
  Tensor x = leaf({2, 3});
  Tensor w = random_tensor({2, 3}).to(DType::Float32);
  ops::sum(ops::mul(x.to(DType::Float32), w)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  expect_close(x.grad(), w.to(DType::Float64), 0, 0);
  // float64 -> float64 copy is differentiable too
  check_gradients([](const std::vector<Tensor>& in) { return ops::to_dtype(in[0].t(), DType::Float64); }, {leaf({2, 3})});
}

TEST(Tensor, ItemAndShapeErrors) {
  EXPECT_ERROR_CONTAINS(random_tensor({2, 2}).item(), "item: tensor of shape (2, 2) has 4 elements");
  EXPECT_ERROR_CONTAINS(Tensor::from_vector({1, 2, 3}, {2, 2}), "from_vector");
  EXPECT_ERROR_CONTAINS(Tensor::from_vector({1}, {1}, DType::Int64).set_requires_grad(true),
                        "only floating tensors can require grad");
}

TEST(Tensor, ViewsRefuseMoreThanMaxDims) {
  // A view with more dims than a kernel view holds must be refused up front,
  // not packed past the end of trt_tensor_view's fixed arrays.
  Tensor t = ops::ones({1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_ERROR_CONTAINS(t.unsqueeze(0), "at most 8 dims");
  EXPECT_ERROR_CONTAINS(t.view({1, 1, 1, 1, 1, 1, 1, 1, 1}), "at most 8 dims");
  EXPECT_ERROR_CONTAINS(t.expand({1, 1, 1, 1, 1, 1, 1, 1, 1}), "at most 8 dims");
}

TEST(Tensor, EmptyRefusesSizesWhoseByteCountOverflows) {
  // 2^40 * 2^22 float32 elements = 2^64 bytes: wraps to 0 without a check.
  EXPECT_ERROR_CONTAINS(Tensor::empty({int64_t{1} << 40, int64_t{1} << 22}), "too large");
  EXPECT_ERROR_CONTAINS(Tensor::empty({int64_t{1} << 62, 4}, DType::UInt8), "too large");
  EXPECT_EQ(Tensor::empty({int64_t{1} << 62, 4, 0}).numel(), 0);  // empty: nothing to allocate
  // Counting elements never wraps either (UBSan found the product overflowing before the 0).
  EXPECT_EQ(numel_of({int64_t{1} << 62, 4, 0}), 0);
  EXPECT_ERROR_CONTAINS(numel_of({int64_t{1} << 40, int64_t{1} << 40}), "more elements than int64 counts");
}

TEST(Tensor, DimOpsOnZeroDimTensors) {
  Tensor s = ops::full({}, 3.0);
  EXPECT_EQ(s.squeeze(0).dim(), 0);
  EXPECT_EQ(s.squeeze(-1).item(), 3.0);
  EXPECT_ERROR_CONTAINS(s.size(0), "size: tensor of shape () has no dims");
  EXPECT_ERROR_CONTAINS(s.narrow(0, 0, 1), "narrow: tensor of shape () has no dims");
  EXPECT_ERROR_CONTAINS(s.select(0, 0), "select: tensor of shape () has no dims");
}

TEST(View, EmptyTensorsAreContiguous) {
  // A size-0 dim after the first made is_contiguous() false for a freshly
  // allocated tensor, so view, reshape and flatten of it all failed.
  Tensor e = Tensor::empty({4, 0});
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_EQ(e.view({0}).sizes(), (Shape{0}));
  EXPECT_EQ(e.reshape({0, 4}).sizes(), (Shape{0, 4}));
  EXPECT_EQ(Tensor::empty({2, 0, 3}).flatten(1).sizes(), (Shape{2, 0}));
}

TEST(Narrow, RefusesARangeWhoseEndOverflows) {
  // start + length wrapped negative and passed the bounds check.
  Tensor t = random_tensor({4, 3});
  EXPECT_ERROR_CONTAINS(t.narrow(0, 2, std::numeric_limits<int64_t>::max()), "narrow: range");
}

TEST(View, RefusesSizesWhoseProductOverflows) {
  // (2^62, 4) has 2^64 elements, which wrapped to 0 and matched an empty tensor.
  Tensor e = Tensor::empty({0});
  EXPECT_ERROR_CONTAINS(e.view({int64_t{1} << 62, 4}), "view: cannot reshape");
  EXPECT_ERROR_CONTAINS(e.reshape({int64_t{1} << 62, 4, -1}), "reshape");
}

}  // namespace
}  // namespace trainrt
