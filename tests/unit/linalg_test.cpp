// matmul and linear against plain-loop float64 references, finite-difference
// gradients (broadcast batch dims, 1-D operands, transposed and narrowed views),
// and the shape/dtype error messages a user sees.
#include "test_util.h"

namespace trainrt {
namespace {

using test::expect_close;
using test::leaf;
using test::random_tensor;

// c[b] = a[b] x b[b] for contiguous (B, M, K) x (B, K, N) given as flat values.
std::vector<double> ref_bmm(const std::vector<double>& a, const std::vector<double>& b, int64_t B, int64_t M, int64_t K,
                            int64_t N, bool a_shared = false, bool b_shared = false) {
  std::vector<double> c(static_cast<size_t>(B * M * N), 0.0);
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += a[(a_shared ? 0 : bi) * M * K + i * K + k] * b[(b_shared ? 0 : bi) * K * N + k * N + j];
        c[bi * M * N + i * N + j] = s;
      }
  return c;
}

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, DType::Float64); }

TEST(Linalg, Matmul2DMatchesReference) {
  Tensor a = random_tensor({5, 7}), b = random_tensor({7, 4});
  expect_close(ops::matmul(a, b), f64(ref_bmm(a.to_vector(), b.to_vector(), 1, 5, 7, 4), {5, 4}), 1e-12, 1e-12);
}

TEST(Linalg, MatmulFloat32MatchesReference) {
  Tensor a = random_tensor({33, 65}), b = random_tensor({65, 17});
  Tensor c = ops::matmul(a.to(DType::Float32), b.to(DType::Float32));
  EXPECT_EQ(c.dtype(), DType::Float32);
  expect_close(c, f64(ref_bmm(a.to_vector(), b.to_vector(), 1, 33, 65, 17), {33, 17}), 1e-4, 1e-4);
}

TEST(Linalg, MatmulBroadcastsBatchDims) {
  // (2, 1, 3, 4) x (3, 4, 5) -> (2, 3, 3, 5): a's dim 1 and b's missing dim broadcast.
  Tensor a = random_tensor({2, 1, 3, 4}), b = random_tensor({3, 4, 5});
  Tensor c = ops::matmul(a, b);
  ASSERT_EQ(c.sizes(), (Shape{2, 3, 3, 5}));
  std::vector<double> av = a.to_vector(), bv = b.to_vector(), expected;
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<double> ai(av.begin() + i * 12, av.begin() + (i + 1) * 12);
    std::vector<double> ci = ref_bmm(ai, bv, 3, 3, 4, 5, /*a_shared=*/true);
    expected.insert(expected.end(), ci.begin(), ci.end());
  }
  expect_close(c, f64(expected, {2, 3, 3, 5}), 1e-12, 1e-12);
}

TEST(Linalg, MatmulSharedRightOperandFoldsIntoOneGemm) {
  // (4, 3, 6) x (6, 2): the kernel folds the batch into one (12, 6) x (6, 2) GEMM.
  Tensor a = random_tensor({4, 3, 6}), b = random_tensor({6, 2});
  expect_close(ops::matmul(a, b), f64(ref_bmm(a.to_vector(), b.to_vector(), 1, 12, 6, 2), {4, 3, 2}), 1e-12, 1e-12);
}

TEST(Linalg, MatmulOneDimensionalOperands) {
  Tensor v = random_tensor({4}), m = random_tensor({4, 3}), m2 = random_tensor({3, 4}), bm = random_tensor({2, 4, 3});
  Tensor vm = ops::matmul(v, m);
  ASSERT_EQ(vm.sizes(), (Shape{3}));
  expect_close(vm, f64(ref_bmm(v.to_vector(), m.to_vector(), 1, 1, 4, 3), {3}), 1e-12, 1e-12);
  Tensor mv = ops::matmul(m2, v);
  ASSERT_EQ(mv.sizes(), (Shape{3}));
  expect_close(mv, f64(ref_bmm(m2.to_vector(), v.to_vector(), 1, 3, 4, 1), {3}), 1e-12, 1e-12);
  Tensor vv = ops::matmul(v, v);
  ASSERT_EQ(vv.dim(), 0);
  double dot = 0;
  for (double x : v.to_vector()) dot += x * x;
  EXPECT_NEAR(vv.item(), dot, 1e-12);
  Tensor vb = ops::matmul(v, bm);  // (4) x (2, 4, 3) -> (2, 3)
  ASSERT_EQ(vb.sizes(), (Shape{2, 3}));
  expect_close(vb, f64(ref_bmm(v.to_vector(), bm.to_vector(), 2, 1, 4, 3, /*a_shared=*/true), {2, 3}), 1e-12, 1e-12);
}

TEST(Linalg, MatmulNonContiguousViews) {
  Tensor base_a = random_tensor({6, 5});
  Tensor a = base_a.t();                                  // (5, 6) column-major view -> BLAS Trans
  Tensor b = random_tensor({6, 10}).narrow(1, 2, 4);      // (6, 4) rows of pitch 10 -> NoTrans, ld 10
  Tensor c = random_tensor({5, 6, 2}).select(2, 1);       // (5, 6) strides (12, 2): neither, packed
  ASSERT_FALSE(a.is_contiguous());
  ASSERT_FALSE(b.is_contiguous());
  std::vector<double> ac = a.contiguous().to_vector(), bc = b.contiguous().to_vector();
  expect_close(ops::matmul(a, b), f64(ref_bmm(ac, bc, 1, 5, 6, 4), {5, 4}), 1e-12, 1e-12);
  expect_close(ops::matmul(c, b), f64(ref_bmm(c.contiguous().to_vector(), bc, 1, 5, 6, 4), {5, 4}), 1e-12, 1e-12);
  // Batched transposed operand: (3, 4, 5) viewed as (3, 5, 4).
  Tensor bt = random_tensor({3, 4, 5}).transpose(1, 2);
  Tensor m = random_tensor({3, 2, 5});
  expect_close(ops::matmul(m, bt), f64(ref_bmm(m.to_vector(), bt.contiguous().to_vector(), 3, 2, 5, 4), {3, 2, 4}),
               1e-12, 1e-12);
}

TEST(Linalg, MatmulGradients2D) {
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({3, 4}), leaf({4, 5})});
}

TEST(Linalg, MatmulGradientsBroadcastBatch) {
  // b's batch dim broadcasts: its gradient sums over a's batch.
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({2, 3, 2, 4}), leaf({3, 4, 2})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({2, 1, 2, 3}), leaf({1, 3, 3, 2})});
}

TEST(Linalg, MatmulGradientsOneDimensional) {
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({4}), leaf({2, 4, 3})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({3, 4}), leaf({4})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); },
                        {leaf({4}), leaf({4})});
}

TEST(Linalg, MatmulGradientsThroughTransposedAndNarrowedViews) {
  test::check_gradients(
      [](const std::vector<Tensor>& in) { return ops::matmul(in[0].t(), in[1].narrow(1, 1, 3)); },
      {leaf({4, 3}), leaf({4, 6})});
  test::check_gradients(
      [](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1].transpose(1, 2)); },
      {leaf({2, 3, 4}), leaf({2, 5, 4})});
}

TEST(Linalg, LinearMatchesReference) {
  Tensor x = random_tensor({2, 3, 5}), w = random_tensor({4, 5}), b = random_tensor({4});
  Tensor y = ops::linear(x, w, b);
  ASSERT_EQ(y.sizes(), (Shape{2, 3, 4}));
  std::vector<double> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector(), expected;
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 4; ++o) {
      double s = bv[o];
      for (int64_t i = 0; i < 5; ++i) s += xv[r * 5 + i] * wv[o * 5 + i];
      expected.push_back(s);
    }
  expect_close(y, f64(expected, {2, 3, 4}), 1e-12, 1e-12);
  // Without bias, in float32.
  Tensor y32 = ops::linear(x.to(DType::Float32), w.to(DType::Float32));
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 4; ++o) expected[r * 4 + o] -= bv[o];
  expect_close(y32, f64(expected, {2, 3, 4}), 1e-5, 1e-5);
}

TEST(Linalg, LinearGradients) {
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], in[2]); },
                        {leaf({3, 5}), leaf({4, 5}), leaf({4})});
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); },
                        {leaf({2, 3, 5}), leaf({4, 5})});
  // Non-contiguous input: x given transposed.
  test::check_gradients([](const std::vector<Tensor>& in) { return ops::linear(in[0].t(), in[1], in[2]); },
                        {leaf({5, 3}), leaf({4, 5}), leaf({4})});
}

TEST(Linalg, ErrorsNameBothShapes) {
  Tensor a = ops::zeros({64, 3136}), b = ops::zeros({128, 10});
  try {
    ops::matmul(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "matmul: (64, 3136) x (128, 10) - inner sizes differ");
  }
  EXPECT_ERROR_CONTAINS(ops::matmul(ops::zeros({2, 3, 4}), ops::zeros({5, 4, 6})),
                        "matmul: (2, 3, 4) x (5, 4, 6) - batch dims cannot be broadcast");
  EXPECT_ERROR_CONTAINS(ops::matmul(ops::zeros({2, 3}), ops::zeros({3, 2}, DType::Float64)), "float64");
  EXPECT_ERROR_CONTAINS(ops::matmul(ops::zeros({3}), ops::zeros({4})), "(3) x (4) - inner sizes differ");
  EXPECT_ERROR_CONTAINS(ops::linear(ops::zeros({8, 3}), ops::zeros({4, 5})), "linear: input (8, 3) x weight (4, 5)");
  EXPECT_ERROR_CONTAINS(ops::linear(ops::zeros({8, 5}), ops::zeros({4, 5}), ops::zeros({3})),
                        "linear: bias (3) for weight (4, 5)");
}

TEST(Linear, ZeroInputFeaturesGiveTheBias) {
  // rows was numel / max(in, 1) = 0 for x (4, 0), not 4.
  Tensor x = Tensor::empty({4, 0}, DType::Float64);
  Tensor w = Tensor::empty({3, 0}, DType::Float64);
  Tensor b = Tensor::from_vector({1, 2, 3}, {3}, DType::Float64);
  Tensor y = ops::linear(x, w, b);
  ASSERT_EQ(y.sizes(), (Shape{4, 3}));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(ops::linear(x, w, Tensor()).to_vector(), std::vector<double>(12, 0.0));
}

}  // namespace
}  // namespace trainrt
