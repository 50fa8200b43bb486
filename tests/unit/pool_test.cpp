// max_pool2d and avg_pool2d against plain-loop float64 references (stride,
// padding, count_include_pad, 3-D input), finite-difference gradients
// (non-contiguous input included) and shape errors.
#include <cmath>
#include <limits>

#include "test_util.h"

namespace trainrt {
namespace {

using test::expect_close;
using test::leaf;
using test::random_tensor;

ops::Pool2dOptions popts(std::array<int64_t, 2> k, std::array<int64_t, 2> s, std::array<int64_t, 2> p,
                         bool include_pad = true) {
  ops::Pool2dOptions o;
  o.kernel = k;
  o.stride = s;
  o.padding = p;
  o.count_include_pad = include_pad;
  return o;
}

// Reference over (N, C, H, W); max ignores padding, avg divides by kh*kw or by the valid count.
Tensor ref_pool(const Tensor& x, const ops::Pool2dOptions& o, bool is_max) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t sh = o.stride[0] ? o.stride[0] : o.kernel[0], sw = o.stride[1] ? o.stride[1] : o.kernel[1];
  int64_t OH = (H + 2 * o.padding[0] - o.kernel[0]) / sh + 1, OW = (W + 2 * o.padding[1] - o.kernel[1]) / sw + 1;
  std::vector<double> xv = x.contiguous().to_vector(), y;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double m = -std::numeric_limits<double>::infinity(), s = 0;
        int64_t count = 0;
        for (int64_t i = 0; i < o.kernel[0]; ++i)
          for (int64_t j = 0; j < o.kernel[1]; ++j) {
            int64_t ih = oh * sh - o.padding[0] + i, iw = ow * sw - o.padding[1] + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            double v = xv[(nc * H + ih) * W + iw];
            m = std::max(m, v);
            s += v;
            ++count;
          }
        y.push_back(is_max ? m : s / (o.count_include_pad ? o.kernel[0] * o.kernel[1] : count));
      }
  return Tensor::from_vector(y, {N, C, OH, OW}, DType::Float64);
}

// Ties and NaN: the gradient goes to one element per window, the first maximum
// (or the first NaN, which wins as in PyTorch), on the 2x2 fast path and the general one.
TEST(Pool, MaxPoolTiesAndNaNRouteGradientToTheFirstWinner) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  // x: (1, 1, 2, 4) = [[5, 5, 9, NaN], [1, 5, 2, 3]]
  std::vector<double> values{5, 5, 9, nan, 1, 5, 2, 3};
  struct Case {
    ops::Pool2dOptions options;
    std::vector<double> grad;
  };
  // stride 2 (fast path): windows {5,5,1,5} -> x0, {9,NaN,2,3} -> x3
  // stride 1 (general path): adds the window {5,9,5,2} -> x2
  for (const Case& c : {Case{popts({2, 2}, {0, 0}, {0, 0}), {1, 0, 0, 1, 0, 0, 0, 0}},
                        Case{popts({2, 2}, {1, 1}, {0, 0}), {1, 0, 1, 1, 0, 0, 0, 0}}}) {
    Tensor x = Tensor::from_vector(values, {1, 1, 2, 4}, DType::Float64);
    x.set_requires_grad(true);
    Tensor y = ops::max_pool2d(x, c.options);
    std::vector<double> yv = y.to_vector();
    EXPECT_EQ(yv.front(), 5);
    EXPECT_TRUE(std::isnan(yv.back())) << "NaN must win its window";
    ops::sum(y).backward();
    EXPECT_EQ(x.grad().to_vector(), c.grad);
  }
}

TEST(Pool, MaxPoolMatchesReference) {
  Tensor x = random_tensor({2, 3, 8, 7});
  ops::Pool2dOptions o = popts({2, 2}, {0, 0}, {0, 0});
  Tensor y = ops::max_pool2d(x, o);
  ASSERT_EQ(y.sizes(), (Shape{2, 3, 4, 3}));
  expect_close(y, ref_pool(x, o, true), 0, 0);
  ops::Pool2dOptions o2 = popts({3, 2}, {2, 1}, {1, 1});
  expect_close(ops::max_pool2d(x, o2), ref_pool(x, o2, true), 0, 0);
  expect_close(ops::max_pool2d(x.to(DType::Float32), o2), ref_pool(x, o2, true), 1e-6, 1e-6);
}

TEST(Pool, AvgPoolMatchesReference) {
  Tensor x = random_tensor({2, 3, 7, 8});
  ops::Pool2dOptions o = popts({2, 2}, {0, 0}, {0, 0});
  expect_close(ops::avg_pool2d(x, o), ref_pool(x, o, false), 1e-12, 1e-12);
  for (bool include : {true, false}) {
    ops::Pool2dOptions o2 = popts({3, 3}, {2, 2}, {1, 1}, include);
    expect_close(ops::avg_pool2d(x, o2), ref_pool(x, o2, false), 1e-12, 1e-12);
  }
  expect_close(ops::avg_pool2d(x.to(DType::Float32), o), ref_pool(x, o, false), 1e-6, 1e-6);
}

TEST(Pool, ThreeDimensionalInputAndNonContiguous) {
  Tensor x = random_tensor({3, 6, 6});
  ops::Pool2dOptions o = popts({2, 2}, {0, 0}, {0, 0});
  Tensor y = ops::max_pool2d(x, o);
  ASSERT_EQ(y.sizes(), (Shape{3, 3, 3}));
  expect_close(y, ref_pool(x.unsqueeze(0), o, true).view({3, 3, 3}), 0, 0);
  Tensor xt = random_tensor({2, 6, 5, 3}).permute({0, 3, 1, 2});  // (2, 3, 6, 5), not contiguous
  expect_close(ops::avg_pool2d(xt, o), ref_pool(xt, o, false), 1e-12, 1e-12);
}

TEST(Pool, MaxPoolGradients) {
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::max_pool2d(in[0], popts({2, 2}, {0, 0}, {0, 0})); },
                        {leaf({2, 2, 6, 5})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::max_pool2d(in[0], popts({3, 3}, {2, 1}, {1, 1})); },
                        {leaf({1, 2, 5, 6})});
  // Overlapping windows through a transposed view: one input feeds several outputs.
  test::check_gradients(
      [](const std::vector<Tensor>& in) { return ops::max_pool2d(in[0].transpose(2, 3), popts({2, 2}, {1, 1}, {0, 0})); },
      {leaf({1, 2, 5, 4})});
}

TEST(Pool, AvgPoolGradients) {
  for (bool include : {true, false})
    test::check_gradients(
        [include](const std::vector<Tensor>& in) { return ops::avg_pool2d(in[0], popts({3, 2}, {2, 1}, {1, 1}, include)); },
        {leaf({2, 2, 5, 6})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::avg_pool2d(in[0], popts({2, 2}, {0, 0}, {0, 0})); },
                        {leaf({3, 4, 4})});
}

TEST(Pool, Errors) {
  EXPECT_ERROR_CONTAINS(ops::max_pool2d(ops::zeros({1, 1, 4, 4}), popts({2, 2}, {0, 0}, {2, 0})),
                        "max_pool2d: padding (2, 0) must be between 0 and half the kernel (2, 2)");
  EXPECT_ERROR_CONTAINS(ops::avg_pool2d(ops::zeros({1, 1, 2, 2}), popts({3, 3}, {0, 0}, {0, 0})),
                        "avg_pool2d: input (1, 1, 2, 2) with kernel (3, 3), stride (3, 3), padding (0, 0) gives output size (0, 0)");
  EXPECT_ERROR_CONTAINS(ops::max_pool2d(ops::zeros({4, 4}), popts({2, 2}, {0, 0}, {0, 0})),
                        "max_pool2d: input must be (N, C, H, W) or (C, H, W), got (4, 4)");
  EXPECT_ERROR_CONTAINS(ops::max_pool2d(ops::zeros({1, 1, 4, 4}, DType::Int64), popts({2, 2}, {0, 0}, {0, 0})),
                        "float32 or float64");
}

}  // namespace
}  // namespace trainrt
