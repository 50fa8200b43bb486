// bfloat16 autocast (trainrt/autocast.h): round_bf16 against a reference that
// picks the nearer of the two bf16 neighbours (ties to the even one), its
// gradient rule, and conv2d / linear / matmul under bf16 precision equal to
// the float32 op on rounded operands with a rounded result, gradients
// included; float64 and fp32 precision untouched. round_bf16 is a rounding
// (derivative zero almost everywhere), so instead of finite differences its
// gradient test checks the rule autocast defines: the gradient of a bf16
// value is the incoming gradient rounded to bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "test_util.h"
#include "trainrt/autocast.h"

namespace trainrt {
namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// The bf16 value nearest x: the truncation or the next bf16 up in magnitude,
// whichever is nearer (compared in double), the one with an even last bit on a tie.
float reference_bf16(float x) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x;
  uint32_t lo_bits = bits_of(x) & 0xffff0000u;
  float lo = from_bits(lo_bits), hi = from_bits(lo_bits + 0x10000u);  // hi may be inf
  double dlo = std::fabs(double(x) - double(lo)), dhi = std::fabs(double(hi) - double(x));
  if (std::isinf(hi)) dhi = std::fabs(std::ldexp(1.0, 128) * (x < 0 ? -1 : 1) - double(x));  // rounds to inf past the midpoint
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo_bits >> 16) & 1u ? hi : lo;
}

TEST(Autocast, RoundBf16MatchesTheNearestBf16) {
  std::vector<double> values{0.0, -0.0, 1.0, 1.00390625, 1.005859375, 1.01171875, -3.14159265, 1e-40, -2.5e-39,
                             3.3961e38, 3.4e38, -3.4e38, 65504.0, 1e-7};
  std::vector<float> raw{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::quiet_NaN(), from_bits(0x7f7fffffu), from_bits(0x3f808000u),
                         from_bits(0x3f818000u), from_bits(0x00008000u)};
  Tensor rnd = test::random_tensor({2000}, -50, 50).to(DType::Float32);
  std::vector<float> inputs(raw);
  for (double v : values) inputs.push_back(static_cast<float>(v));
  for (double v : rnd.to_vector()) inputs.push_back(static_cast<float>(v));
  std::vector<double> as_double(inputs.begin(), inputs.end());
  Tensor x = Tensor::from_vector(as_double, {static_cast<int64_t>(inputs.size())}, DType::Float32);
  std::vector<double> got = ops::round_bf16(x).to_vector();
  for (size_t i = 0; i < inputs.size(); ++i) {
    float expected = reference_bf16(inputs[i]);
    float actual = static_cast<float>(got[i]);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(actual)) << "input bits " << std::hex << bits_of(inputs[i]);
    } else {
      EXPECT_EQ(bits_of(actual), bits_of(expected)) << "input " << inputs[i] << " bits " << std::hex << bits_of(inputs[i]);
    }
  }
  EXPECT_ERROR_CONTAINS(ops::round_bf16(Tensor::from_vector({1.0}, {1}, DType::Float64)),
                        "round_bf16: needs a float32 tensor, got float64");
}

TEST(Autocast, RoundBf16GradientIsTheRoundedIncomingGradient) {
  Tensor x = test::random_tensor({64}).to(DType::Float32).set_requires_grad(true);
  Tensor g = test::random_tensor({64}).to(DType::Float32);
  ops::round_bf16(x).backward(g);
  EXPECT_EQ(x.grad().to_vector(), ops::round_bf16(g).to_vector());
}

void expect_bf16_exact(const Tensor& t, const char* what) {
  EXPECT_EQ(t.to_vector(), ops::round_bf16(t.detach()).to_vector()) << what << " holds non-bf16 values";
}

// op(x, w, b) under bf16 precision == round(op(round(x), round(w), round(b))) in fp32,
// forward and the gradients of x, w and b.
template <typename Op> void expect_autocast(Op op, const Shape& xs, const Shape& ws, const Shape& bs) {
  Tensor x0 = test::random_tensor(xs).to(DType::Float32), w0 = test::random_tensor(ws).to(DType::Float32);
  Tensor b0 = bs.empty() ? Tensor() : test::random_tensor(bs).to(DType::Float32);
  auto leaf = [](const Tensor& t) { return t.defined() ? t.detach().clone().set_requires_grad(true) : Tensor(); };
  Tensor x = leaf(x0), w = leaf(w0), b = leaf(b0);
  Tensor y;
  {
    PrecisionGuard bf16(Precision::BFloat16);
    y = op(x, w, b);
  }
  Tensor xr = leaf(x0), wr = leaf(w0), br = leaf(b0);
  Tensor expected = ops::round_bf16(
      op(ops::round_bf16(xr), ops::round_bf16(wr), br.defined() ? ops::round_bf16(br) : br));
  EXPECT_EQ(y.to_vector(), expected.to_vector());
  expect_bf16_exact(y, "the result");
  Tensor g = test::random_tensor(y.sizes()).to(DType::Float32);
  y.backward(g);
  expected.backward(g);
  EXPECT_EQ(x.grad().to_vector(), xr.grad().to_vector());
  EXPECT_EQ(w.grad().to_vector(), wr.grad().to_vector());
  expect_bf16_exact(w.grad(), "the weight gradient");
  if (b.defined()) {
    EXPECT_EQ(b.grad().to_vector(), br.grad().to_vector());
  }
  // fp32 precision: the plain op, whose result is not bf16 in general
  Tensor plain = op(x0, w0, b0);
  EXPECT_NE(plain.to_vector(), ops::round_bf16(plain).to_vector());
}

TEST(Autocast, Conv2dLinearAndMatmulUnderBf16RoundOperandsResultAndGradients) {
  ops::Conv2dOptions o;
  o.padding = {1, 1};
  expect_autocast([o](const Tensor& x, const Tensor& w, const Tensor& b) { return ops::conv2d(x, w, b, o); },
                  {2, 3, 6, 5}, {4, 3, 3, 3}, {4});
  expect_autocast([](const Tensor& x, const Tensor& w, const Tensor& b) { return ops::linear(x, w, b); }, {5, 7},
                  {3, 7}, {3});
  expect_autocast([](const Tensor& x, const Tensor& w, const Tensor&) { return ops::matmul(x, w); }, {4, 6}, {6, 5},
                  {});
}

TEST(Autocast, Float64AndTheInferenceBlock) {
  PrecisionGuard bf16(Precision::BFloat16);
  Tensor x = test::random_tensor({3, 4}), w = test::random_tensor({4, 2});
  EXPECT_EQ(ops::matmul(x, w).to_vector(), [&] {
    PrecisionGuard fp32(Precision::Float32);
    return ops::matmul(x, w).to_vector();
  }());
  // conv -> relu -> max-pool for inference rounds like the composition of the autocast ops.
  Tensor xf = test::random_tensor({2, 1, 8, 8}).to(DType::Float32), wf = test::random_tensor({3, 1, 3, 3}).to(DType::Float32);
  ops::Conv2dOptions co;
  co.padding = {1, 1};
  NoGradGuard no_grad;
  EXPECT_EQ(ops::conv2d_relu_max_pool2d(xf, wf, Tensor(), co, {}).to_vector(),
            ops::max_pool2d(ops::relu(ops::conv2d(xf, wf, Tensor(), co)), {}).to_vector());
  EXPECT_EQ(parse_precision("bfloat16"), Precision::BFloat16);
  EXPECT_ERROR_CONTAINS(parse_precision("fp16"), "precision must be fp32 or bf16, got 'fp16'");
}

}  // namespace
}  // namespace trainrt
