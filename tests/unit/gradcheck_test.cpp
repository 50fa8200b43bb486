// The runtime's gradient checker (trainrt/gradcheck.h): passes on ops whose
// backward is right, in float64 and float32, and reports a wrong gradient with
// the input, index and both values instead of asserting.
#include "trainrt/gradcheck.h"

#include "test_util.h"

namespace trainrt {
namespace {

using test::leaf;

std::vector<Tensor> one(const Tensor& t) { return {t}; }

TEST(Gradcheck, PassesOnOpsInFloat64) {
  Tensor x = leaf({3, 4}), w = leaf({4, 2});
  GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return one(ops::tanh(ops::matmul(in[0], in[1]))); }, {x, w});
  EXPECT_TRUE(r.passed) << r.message;
  EXPECT_EQ(r.checked, 12 + 8);
  EXPECT_LT(r.max_abs_error, 1e-7);
  EXPECT_DOUBLE_EQ(r.eps, 1e-6);
  EXPECT_FALSE(x.grad().defined()) << "the caller's .grad must stay untouched";
}

TEST(Gradcheck, PassesInFloat32WithItsTolerances) {
  Tensor x = ops::rand({5, 3}, -1, 1, DType::Float32);
  x.set_requires_grad(true);
  GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return one(ops::mul(ops::sigmoid(in[0]), ops::exp(in[0]))); }, {x});
  EXPECT_TRUE(r.passed) << r.message;
  EXPECT_DOUBLE_EQ(r.eps, 1e-3);
  EXPECT_DOUBLE_EQ(r.rtol, 1e-2);
}

TEST(Gradcheck, ReportsAWrongGradientWithInputAndIndex) {
  // f(x) = x * detach(x): autograd gives x, the true derivative is 2x.
  Tensor a = leaf({2, 2}), x = leaf({2, 3}, 0.5, 1.5);
  GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return one(ops::add(ops::sum(in[0]), ops::mul(in[1], in[1].detach()))); },
      {a, x});
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.worst_input, 1);
  EXPECT_EQ(r.mismatched, 6);
  EXPECT_NEAR(r.worst_numeric, 2 * r.worst_analytic, 1e-6);
  EXPECT_NE(r.message.find("gradient of input 2 (2, 3) at index ("), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("6 of 10 elements"), std::string::npos) << r.message;
}

TEST(Gradcheck, SeveralOutputsAndOneThatDoesNotRequireGrad) {
  Tensor x = leaf({4});
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor stat = ops::sum(in[0]).detach();  // like a saved statistic: no gradient
    return std::vector<Tensor>{ops::exp(in[0]), stat, ops::mul(in[0], 3.0)};
  };
  GradcheckResult r = gradcheck(fn, {x});
  EXPECT_TRUE(r.passed) << r.message;
}

TEST(Gradcheck, NonContiguousInputKeepsItsGeometry) {
  Tensor x = leaf({3, 4});
  Tensor xt = x.detach().t();  // a transposed leaf
  xt.set_requires_grad(true);
  bool saw_transposed = false;
  GradcheckResult r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        if (in[0].requires_grad() && !in[0].is_contiguous()) saw_transposed = true;
        return one(ops::matmul(in[0], in[0].t()));
      },
      {xt});
  EXPECT_TRUE(r.passed) << r.message;
  EXPECT_TRUE(saw_transposed);
}

TEST(Gradcheck, FailsWhenNothingRequiresGradOrOutputIsNotFinite) {
  Tensor x = test::random_tensor({3});
  GradcheckResult none = gradcheck([](const std::vector<Tensor>& in) { return one(ops::exp(in[0])); }, {x});
  EXPECT_FALSE(none.passed);
  EXPECT_NE(none.message.find("no input requires grad"), std::string::npos) << none.message;

  Tensor y = leaf({3});
  GradcheckResult detached = gradcheck([](const std::vector<Tensor>& in) { return one(in[0].detach()); }, {y});
  EXPECT_FALSE(detached.passed);
  EXPECT_NE(detached.message.find("no output requires grad"), std::string::npos) << detached.message;

  GradcheckResult inf = gradcheck([](const std::vector<Tensor>& in) { return one(ops::div(in[0], 0.0)); }, {y});
  EXPECT_FALSE(inf.passed);
  EXPECT_NE(inf.message.find("not finite"), std::string::npos) << inf.message;
}

TEST(Gradcheck, CompareTensorsNamesTheWorstIndex) {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::Float64);
  Tensor b = Tensor::from_vector({1, 2, 3, 4.5}, {2, 2}, DType::Float64);
  GradcheckResult r = compare_tensors(a, b, 1e-6, 1e-6, "output 1");
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.worst_index, 3);
  EXPECT_DOUBLE_EQ(r.max_abs_error, 0.5);
  EXPECT_NE(r.message.find("output 1 at index (1, 1): 4 vs 4.5"), std::string::npos) << r.message;
  EXPECT_TRUE(compare_tensors(a, a, 0, 0, "same").passed);
}

}  // namespace
}  // namespace trainrt
