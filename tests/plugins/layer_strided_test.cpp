// Plugin layers fed transposed, expanded (stride 0) and narrowed inputs and
// grad_outputs give the values and gradients of contiguous ones: for a layer
// whose kernels assume contiguous views (the host copies) and one that sets
// TRT_LAYER_STRIDED_INPUTS (its kernels honour strides). Also the runtime's
// gradcheck on those layers, and on the deliberately wrong ones.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "test_util.h"
#include "trainrt/gradcheck.h"
#include "trainrt/ops/layer.h"
#include "trainrt/plugins.h"

namespace trainrt {
namespace {

std::string test_plugin(const std::string& name) { return std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + name + ".so"; }

class StridedLayer : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(load_plugin_file(test_plugin("test-layers"))); }

  ops::LayerAttrValues attrs(const std::string& name) {
    ops::LayerAttrArgs args;
    args.named = {{"scale", 0.75}, {"power", 3}};
    return ops::resolve_layer_attrs(ops::require_layer(name, DeviceType::CPU), args);
  }
};

struct Result {
  Tensor y, stat, grad;
};

// Runs the layer on view(leaf), backward of y with grad_y; returns y, stat and leaf's gradient.
Result run(const std::string& name, const ops::LayerAttrValues& attrs, const Tensor& base,
           const std::function<Tensor(const Tensor&)>& view, const Tensor& grad_y) {
  Tensor leaf = base.detach();
  leaf.set_requires_grad(true);
  std::vector<Tensor> outs = ops::layer_outputs(name, {view(leaf)}, attrs);
  EXPECT_EQ(outs.size(), 2u);
  EXPECT_TRUE(outs[0].requires_grad());
  EXPECT_FALSE(outs[1].requires_grad()) << "stat is marked non-differentiable";
  outs[0].backward(grad_y);
  return {outs[0].detach(), outs[1].detach(), leaf.grad()};
}

void expect_same(const Result& actual, const Result& expected, const std::string& what) {
  SCOPED_TRACE(what);
  test::expect_close(actual.y, expected.y, 1e-12, 1e-12);
  test::expect_close(actual.stat, expected.stat, 1e-12, 1e-12);
  test::expect_close(actual.grad, expected.grad, 1e-12, 1e-12);
}

TEST_P(StridedLayer, TransposedExpandedNarrowedInputsMatchContiguous) {
  const std::string name = GetParam();
  ops::LayerAttrValues a = attrs(name);
  Tensor grad_y = test::random_tensor({4, 3}, 0.5, 1.5);
  auto same = [](const Tensor& t) { return t; };
  auto copy = [](const Tensor& t) { return t.contiguous(); };

  // transposed: (3, 4) storage read as (4, 3)
  Tensor xt = test::random_tensor({3, 4});
  auto transposed = [](const Tensor& t) { return t.t(); };
  Result want = run(name, a, xt, [&](const Tensor& t) { return copy(transposed(t)); }, grad_y);
  expect_same(run(name, a, xt, transposed, grad_y), want, "transposed input");

  // expanded: one row (1, 3) broadcast to (4, 3) with stride 0
  Tensor row = test::random_tensor({1, 3});
  auto expanded = [](const Tensor& t) { return t.expand({4, 3}); };
  want = run(name, a, row, [&](const Tensor& t) { return copy(expanded(t)); }, grad_y);
  expect_same(run(name, a, row, expanded, grad_y), want, "expanded input");
  EXPECT_EQ(want.grad.sizes(), (Shape{1, 3}));

  // narrowed: columns 2..4 of a (4, 6) tensor
  Tensor wide = test::random_tensor({4, 6});
  auto narrowed = [](const Tensor& t) { return t.narrow(1, 2, 3); };
  want = run(name, a, wide, [&](const Tensor& t) { return copy(narrowed(t)); }, grad_y);
  expect_same(run(name, a, wide, narrowed, grad_y), want, "narrowed input");

  // grad_output transposed and expanded, against the same values contiguous
  Tensor x = test::random_tensor({4, 3});
  Tensor gt = test::random_tensor({3, 4}, 0.5, 1.5).t();
  expect_same(run(name, a, x, same, gt), run(name, a, x, same, gt.contiguous()), "transposed grad_output");
  Tensor ge = test::random_tensor({1, 3}, 0.5, 1.5).expand({4, 3});
  expect_same(run(name, a, x, same, ge), run(name, a, x, same, ge.contiguous()), "expanded grad_output");
}

TEST_P(StridedLayer, GradcheckPassesOnAStridedInput) {
  const std::string name = GetParam();
  ops::LayerAttrValues a = attrs(name);
  Tensor x = test::random_tensor({5, 4}).t();  // a transposed leaf
  x.set_requires_grad(true);
  GradcheckResult r =
      gradcheck([&](const std::vector<Tensor>& in) { return ops::layer_outputs(name, in, a); }, {x});
  EXPECT_TRUE(r.passed) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Layers, StridedLayer, ::testing::Values("scale_square", "scale_square_strided"));

TEST(StridedLayerBad, GradcheckCatchesTheWrongBackwardAndTheStrideIgnoringKernel) {
  ASSERT_TRUE(load_plugin_file(test_plugin("test-layers-bad")));
  ops::LayerAttrArgs args;
  args.named = {{"power", 2}};
  auto check = [&](const std::string& name, const Tensor& x) {
    ops::LayerAttrValues a = ops::resolve_layer_attrs(ops::require_layer(name, DeviceType::CPU), args);
    return gradcheck([&](const std::vector<Tensor>& in) { return ops::layer_outputs(name, in, a); }, {x});
  };
  Tensor x = test::leaf({3, 4});
  GradcheckResult twice = check("twice_grad", x);
  EXPECT_FALSE(twice.passed);
  EXPECT_NEAR(twice.worst_analytic, 2 * twice.worst_numeric, 1e-4 * std::abs(twice.worst_numeric) + 1e-6);
  EXPECT_TRUE(check("fine_too", x).passed);
  // Contiguous: the stride-ignoring kernel is right; transposed it is not
  // (its forward and backward both read the views as if contiguous).
  EXPECT_TRUE(check("ignores_strides", x).passed);
  Tensor xt = test::random_tensor({4, 3}).t();
  xt.set_requires_grad(true);
  EXPECT_FALSE(check("ignores_strides", xt).passed);
}

}  // namespace
}  // namespace trainrt
