// Gradients in float32, the dtype training runs in: for every differentiable
// op, the float32 backward (kernels and formulas as training uses them) against
// central finite differences computed in float64 on the same inputs, with a
// tolerance per op. The float64 checks in each op's test prove the formulas;
// these prove the float32 kernels do not lose them (accumulation order,
// cancellation, the oneDNN convolution path that only float32 takes).
#include <cmath>

#include "test_util.h"

namespace trainrt {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Case {
  const char* name;
  Fn f;
  std::vector<Shape> shapes;
  double rtol;  // |g32 - fd64| <= atol + rtol * |fd64|
  double atol;
  double low = -1, high = 1;
};

// Fails with the op, input and element of the first gradient out of tolerance.
void check_float32(const Case& c) {
  SCOPED_TRACE(c.name);
  manual_seed(3);
  std::vector<Tensor> x64, x32;
  for (const Shape& s : c.shapes) {
    Tensor t = ops::rand(s, c.low, c.high, DType::Float64);
    x64.push_back(t);
    x32.push_back(t.to(DType::Float32).set_requires_grad(true));
  }
  Tensor y32 = c.f(x32);
  Tensor w64 = ops::rand(y32.sizes(), 0.5, 1.5, DType::Float64);  // every output element matters
  ops::sum(ops::mul(y32, w64.to(DType::Float32))).backward();

  NoGradGuard no_grad;
  auto objective = [&] { return ops::sum(ops::mul(c.f(x64), w64)).item(); };
  for (size_t k = 0; k < x64.size(); ++k) {
    ASSERT_TRUE(x32[k].grad().defined()) << "no gradient reached input " << k;
    std::vector<double> g32 = x32[k].grad().to_vector();
    double* p = x64[k].data<double>();
    for (int64_t i = 0; i < x64[k].numel(); ++i) {
      const double saved = p[i], eps = 1e-6;
      p[i] = saved + eps;
      double plus = objective();
      p[i] = saved - eps;
      double minus = objective();
      p[i] = saved;
      double fd = (plus - minus) / (2 * eps);
      ASSERT_NEAR(g32[i], fd, c.atol + c.rtol * std::abs(fd)) << "input " << k << " element " << i;
    }
  }
}

TEST(Float32Gradients, ElementwiseOps) {
  std::vector<Case> cases = {
      {"add broadcast", [](auto& in) { return ops::add(in[0], in[1]); }, {{4, 5}, {5}}, 1e-5, 1e-5},
      {"sub", [](auto& in) { return ops::sub(in[0], in[1].t()); }, {{3, 4}, {4, 3}}, 1e-5, 1e-5},
      {"mul", [](auto& in) { return ops::mul(in[0], in[1]); }, {{3, 4}, {3, 4}}, 1e-5, 1e-5},
      {"div", [](auto& in) { return ops::div(in[0], in[1]); }, {{3, 4}, {3, 4}}, 1e-4, 1e-5, 0.5, 2},
      {"pow", [](auto& in) { return ops::pow(in[0], 2.5); }, {{3, 4}}, 1e-4, 1e-5, 0.5, 2},
      {"exp", [](auto& in) { return ops::exp(in[0]); }, {{3, 4}}, 1e-5, 1e-5},
      {"log", [](auto& in) { return ops::log(in[0]); }, {{3, 4}}, 1e-5, 1e-5, 0.5, 2},
      {"sqrt", [](auto& in) { return ops::sqrt(in[0]); }, {{3, 4}}, 1e-5, 1e-5, 0.5, 2},
      {"sigmoid", [](auto& in) { return ops::sigmoid(in[0]); }, {{3, 4}}, 1e-5, 1e-5, -3, 3},
      {"tanh", [](auto& in) { return ops::tanh(in[0]); }, {{3, 4}}, 1e-5, 1e-5, -2, 2},
      {"relu", [](auto& in) { return ops::relu(in[0]); }, {{3, 4}}, 1e-5, 1e-5, 0.2, 1},
      {"abs", [](auto& in) { return ops::abs(in[0]); }, {{3, 4}}, 1e-5, 1e-5, 0.2, 1},
      {"neg of a transposed view", [](auto& in) { return ops::neg(in[0].t()); }, {{3, 4}}, 1e-6, 1e-6},
  };
  for (const Case& c : cases) check_float32(c);
}

TEST(Float32Gradients, ReductionsAndLinearAlgebra) {
  std::vector<Case> cases = {
      {"sum over dims", [](auto& in) { return ops::sum(in[0], {0, 2}); }, {{4, 3, 5}}, 1e-5, 1e-5},
      {"mean", [](auto& in) { return ops::mean(in[0], {1}); }, {{4, 6}}, 1e-5, 1e-5},
      {"var", [](auto& in) { return ops::var(in[0], {1}); }, {{4, 6}}, 1e-4, 1e-5},
      {"matmul", [](auto& in) { return ops::matmul(in[0], in[1]); }, {{5, 7}, {7, 3}}, 1e-4, 1e-5},
      {"matmul transposed", [](auto& in) { return ops::matmul(in[0].t(), in[1]); }, {{7, 5}, {7, 3}}, 1e-4, 1e-5},
      {"linear", [](auto& in) { return ops::linear(in[0], in[1], in[2]); }, {{6, 8}, {4, 8}, {4}}, 1e-4, 1e-5},
  };
  for (const Case& c : cases) check_float32(c);
}

TEST(Float32Gradients, ConvolutionAndPooling) {
  ops::Conv2dOptions padded;
  padded.padding = {1, 1};
  ops::Conv2dOptions strided;
  strided.stride = {2, 2};
  ops::Pool2dOptions pool;
  std::vector<Case> cases = {
      {"conv2d padded", [padded](auto& in) { return ops::conv2d(in[0], in[1], in[2], padded); },
       {{2, 3, 6, 6}, {4, 3, 3, 3}, {4}}, 2e-3, 2e-4},
      {"conv2d strided", [strided](auto& in) { return ops::conv2d(in[0], in[1], in[2], strided); },
       {{2, 2, 7, 7}, {3, 2, 3, 3}, {3}}, 2e-3, 2e-4},
      {"avg_pool2d", [pool](auto& in) { return ops::avg_pool2d(in[0], pool); }, {{2, 3, 4, 6}}, 1e-5, 1e-5},
      // Distinct values far apart: the finite-difference step never changes the winner.
      {"max_pool2d", [pool](auto& in) {
         return ops::max_pool2d(ops::add(in[0], ops::arange(0, 48, 1, in[0].dtype()).view({2, 1, 4, 6})), pool);
       },
       {{2, 1, 4, 6}}, 1e-5, 1e-5, 0, 0.5},
  };
  for (const Case& c : cases) check_float32(c);
}

TEST(Float32Gradients, SoftmaxFamilyAndLosses) {
  Tensor target = Tensor::from_vector({2, 0, 1, 4, 3}, {5}, DType::Int64);
  std::vector<Case> cases = {
      {"log_softmax", [](auto& in) { return ops::log_softmax(in[0], -1); }, {{4, 6}}, 1e-4, 1e-5, -3, 3},
      {"softmax dim 0", [](auto& in) { return ops::softmax(in[0], 0); }, {{4, 6}}, 1e-4, 1e-5, -3, 3},
      {"cross_entropy", [target](auto& in) { return ops::cross_entropy(in[0], target); }, {{5, 6}}, 1e-4, 1e-5, -3, 3},
      {"nll_loss sum", [target](auto& in) { return ops::nll_loss(ops::log_softmax(in[0]), target, ops::Reduction::Sum); },
       {{5, 6}}, 1e-4, 1e-5, -3, 3},
      {"mse_loss", [](auto& in) { return ops::mse_loss(in[0], in[1]); }, {{4, 5}, {4, 5}}, 1e-4, 1e-5},
  };
  for (const Case& c : cases) check_float32(c);
}

}  // namespace
}  // namespace trainrt
