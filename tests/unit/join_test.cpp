// cat against a plain-loop reference (every dim, negative dims, empty pieces,
// strided inputs, float32 and int64), finite-difference gradients for each
// input, and the one-line errors for mismatched shapes, dtypes and devices.
#include "test_util.h"

namespace trainrt {
namespace {

using test::check_gradients;
using test::expect_close;
using test::leaf;
using test::random_tensor;

// The reference: out[..., j, ...] along dim d taken from the input whose range holds j.
Tensor ref_cat(const std::vector<Tensor>& tensors, int64_t d) {
  Shape out_shape = tensors[0].sizes();
  out_shape[d] = 0;
  for (const Tensor& t : tensors) out_shape[d] += t.sizes()[d];
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= out_shape[k];
  for (size_t k = static_cast<size_t>(d) + 1; k < out_shape.size(); ++k) inner *= out_shape[k];
  std::vector<double> out;
  std::vector<std::vector<double>> values;
  for (const Tensor& t : tensors) values.push_back(t.contiguous().to_vector());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < tensors.size(); ++i) {
      int64_t rows = tensors[i].sizes()[d] * inner;
      out.insert(out.end(), values[i].begin() + o * rows, values[i].begin() + (o + 1) * rows);
    }
  return Tensor::from_vector(out, out_shape, DType::Float64);
}

TEST(Cat, EveryDimMatchesTheReference) {
  for (int64_t d = 0; d < 3; ++d) {
    Shape a_shape{2, 3, 4}, b_shape{2, 3, 4};
    b_shape[d] = 5;
    Tensor a = random_tensor(a_shape), b = random_tensor(b_shape), c = random_tensor(a_shape);
    Tensor out = ops::cat({a, b, c}, d);
    expect_close(out, ref_cat({a, b, c}, d), 0, 0);
    expect_close(ops::cat({a, b, c}, d - 3), out, 0, 0);  // negative dims count from the end
  }
}

TEST(Cat, OneInputEmptyPiecesAndStridedInputs) {
  Tensor a = random_tensor({3, 2});
  expect_close(ops::cat({a}, 0), a, 0, 0);
  Tensor empty = random_tensor({0, 2});
  expect_close(ops::cat({empty, a, empty}, 0), a, 0, 0);
  Tensor t = random_tensor({4, 3}).t();  // (3, 4), column-major
  Tensor n = random_tensor({3, 6}).narrow(1, 1, 4);
  expect_close(ops::cat({t, n}, 0), ref_cat({t, n}, 0), 0, 0);
  expect_close(ops::cat({t, n}, 1), ref_cat({t, n}, 1), 0, 0);
}

TEST(Cat, KeepsFloat32AndInt64Exact) {
  Tensor a = random_tensor({2, 3}).to(DType::Float32), b = random_tensor({1, 3}).to(DType::Float32);
  Tensor out = ops::cat({a, b}, 0);
  EXPECT_EQ(out.dtype(), DType::Float32);
  expect_close(out.to(DType::Float64), ref_cat({a.to(DType::Float64), b.to(DType::Float64)}, 0), 0, 0);
  Tensor i = Tensor::from_vector({1, 2, 3}, {3}, DType::Int64), j = Tensor::from_vector({4}, {1}, DType::Int64);
  Tensor joined = ops::cat({i, j}, 0);
  EXPECT_EQ(joined.dtype(), DType::Int64);
  EXPECT_EQ(joined.to_vector(), (std::vector<double>{1, 2, 3, 4}));
}

TEST(Cat, GradientsMatchFiniteDifferences) {
  for (int64_t d : {0, 1, 2})
    check_gradients([d](const std::vector<Tensor>& in) { return ops::cat(in, d); },
                    {leaf({2, 3, 2}), leaf({2, 3, 2}), leaf({2, 3, 2})});
  // Uneven pieces, as the mirrored strategy gathers a batch of 5 over 2 replicas.
  check_gradients([](const std::vector<Tensor>& in) { return ops::cat({in[0], in[1]}, 0); },
                  {leaf({3, 4}), leaf({2, 4})});
  // One input without grad: the other still gets its slice.
  Tensor fixed = random_tensor({2, 4});
  check_gradients([fixed](const std::vector<Tensor>& in) { return ops::cat({fixed, in[0]}, 0); }, {leaf({3, 4})});
}

TEST(Cat, GradientOfEachInputIsItsSliceOfTheOutputGradient) {
  Tensor a = leaf({2, 3}), b = leaf({1, 3});
  Tensor out = ops::cat({a, b}, 0);
  Tensor g = random_tensor({3, 3});
  out.backward(g);
  expect_close(a.grad(), g.narrow(0, 0, 2), 0, 0);
  expect_close(b.grad(), g.narrow(0, 2, 1), 0, 0);
}

TEST(Cat, MistakesAreOneLineNamingTheInput) {
  Tensor a = random_tensor({2, 3});
  EXPECT_ERROR_CONTAINS(ops::cat({}, 0), "cat: expected at least one tensor");
  EXPECT_ERROR_CONTAINS(ops::cat({a, random_tensor({2, 4})}, 0),
                        "cat: tensor 2 has shape (2, 4), tensor 1 (2, 3): sizes must match except in the dim joined");
  EXPECT_ERROR_CONTAINS(ops::cat({a, random_tensor({2, 3, 1})}, 0), "cat: tensor 2 has shape (2, 3, 1)");
  EXPECT_ERROR_CONTAINS(ops::cat({a, a.to(DType::Float32)}, 0), "cat: tensor 2 is float32, tensor 1 float64");
  EXPECT_ERROR_CONTAINS(ops::cat({a, a}, 2), "cat");
  EXPECT_ERROR_CONTAINS(ops::cat({ops::scalar_like(a, 1)}, 0), "zero-dim");
}

}  // namespace
}  // namespace trainrt
