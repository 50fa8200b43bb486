// Autograd engine behaviour a user relies on: shared subexpressions, gradient
// accumulation across backward calls, no_grad, retain_graph, and training.
#include "test_util.h"

namespace trainrt {
namespace {

using test::leaf;

TEST(Autograd, SharedSubexpressionSumsBothPaths) {
  Tensor x = leaf({3});
  Tensor y = ops::mul(x, x);       // y = x^2
  Tensor z = ops::add(y, y);       // z = 2 x^2 ; y used twice
  ops::sum(z).backward();          // dz/dx = 4x
  test::expect_close(x.grad(), ops::mul(x.detach(), 4.0));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({4});
  ops::sum(ops::mul(x, 3.0)).backward();
  ops::sum(ops::mul(x, 2.0)).backward();
  test::expect_close(x.grad(), ops::full({4}, 5.0, DType::Float64));
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = leaf({2});
  Tensor y;
  {
    NoGradGuard guard;
    y = ops::mul(x, x);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_THROW(ops::sum(y).backward(), Error);
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = leaf({2});
  Tensor loss = ops::sum(ops::exp(x));
  loss.backward(Tensor(), /*retain_graph=*/true);
  loss.backward();  // allowed: graph retained
  test::expect_close(x.grad(), ops::mul(ops::exp(x.detach()), 2.0));
  try {
    loss.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, ImplicitGradOnlyForScalars) {
  Tensor x = leaf({3});
  try {
    ops::mul(x, 2.0).backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(3)"), std::string::npos) << e.what();
  }
}

// add's backward hands one gradient tensor to both inputs; each leaf's .grad
// must still own its buffer, so changing one in place leaves the other alone.
TEST(Autograd, LeafGradientsNeverShareStorage) {
  Tensor a = leaf({3}), b = leaf({3});
  ops::sum(ops::add(a, b)).backward();
  EXPECT_FALSE(a.grad().same_storage(b.grad()));
  Tensor ga = a.grad();
  ops::fill_(ga, 5);
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{1, 1, 1}));
}

TEST(Autograd, ViewsRouteGradientsBack) {
  Tensor x = leaf({2, 3});
  // transpose + narrow + expand: gradient lands only on the narrowed column
  Tensor y = x.transpose(0, 1).narrow(0, 1, 1).expand({4, 2});  // (4, 2), from x[:, 1]
  ops::sum(y).backward();
  std::vector<double> g = x.grad().to_vector();
  EXPECT_EQ(g, (std::vector<double>{0, 4, 0, 0, 4, 0}));
}

// The hooks the DDP reducer hangs on: a grad-ready hook runs once per backward,
// after .grad holds the accumulated gradient; a queued callback runs after the
// whole graph, and only from inside a backward.
TEST(AutogradHooks, GradReadyRunsAfterAccumulationAndCallbacksAfterTheGraph) {
  Tensor w = leaf({3}), v = leaf({3});
  std::vector<std::string> events;
  uint64_t id = add_grad_ready_hook(w, [&] {
    events.push_back("w ready, grad[0]=" + std::to_string(static_cast<int>(w.grad().to_vector()[0])));
    queue_backward_callback([&] { events.push_back("callback, v has grad: " + std::string(v.grad().defined() ? "yes" : "no")); });
  });
  // w is used twice: its two contributions meet before the hook runs once.
  ops::sum(ops::add(ops::mul(w, 2.0), ops::add(ops::mul(w, 3.0), v))).backward();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], "w ready, grad[0]=5");
  EXPECT_EQ(events[1], "callback, v has grad: yes");
  remove_grad_ready_hook(w, id);
  ops::sum(w).backward();
  EXPECT_EQ(events.size(), 2u) << "a removed hook must not run";
}

TEST(AutogradHooks, CallbacksOutsideBackwardAndHooksOnNonLeavesAreRefused) {
  EXPECT_ERROR_CONTAINS(queue_backward_callback([] {}), "no backward is running");
  Tensor x = leaf({2});
  Tensor y = ops::mul(x, 2.0);
  EXPECT_ERROR_CONTAINS(add_grad_ready_hook(y, [] {}), "is not a leaf that requires grad");
}

TEST(AutogradHooks, AnErrorInACallbackFailsTheBackward) {
  Tensor w = leaf({2});
  add_grad_ready_hook(w, [] { queue_backward_callback([] { fail("reducer says no"); }); });
  EXPECT_ERROR_CONTAINS(ops::sum(w).backward(), "reducer says no");
  // The engine is usable again afterwards.
  Tensor u = leaf({2});
  ops::sum(u).backward();
  EXPECT_TRUE(u.grad().defined());
}

}  // namespace
}  // namespace trainrt
