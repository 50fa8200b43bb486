// Kernels split over the `threads` setting give the results of one thread.
// Sizes are above the kernels' parallel threshold (2^16 elements), and include
// broadcast and strided operands so every splitting path runs.
#include "test_util.h"
#include "trainrt/dispatch.h"

namespace trainrt {
namespace {

// Runs f at 1 thread and at 3 threads (more threads than rows in some cases).
template <typename F> std::pair<Tensor, Tensor> at_one_and_many_threads(F f) {
  int saved = num_threads();
  set_num_threads(1);
  manual_seed(11);
  Tensor one = f();
  set_num_threads(3);
  manual_seed(11);
  Tensor many = f();
  set_num_threads(saved);
  return {one, many};
}

TEST(Threading, ElementwiseAndCopyMatchOneThread) {
  auto [one, many] = at_one_and_many_threads([] {
    Tensor a = ops::randn({256, 600});
    Tensor b = ops::randn({600});
    Tensor t = ops::relu(ops::add(a.t().contiguous().t(), b));   // strided + broadcast operands
    return ops::mul(t.transpose(0, 1).contiguous(), 2.0);         // copy of a transposed view
  });
  test::expect_close(many, one, 0, 0);
}

TEST(Threading, SumOverSeveralDimsMatchesFloat64Reference) {
  // x: (64, 32, 28, 28), the conv bias-gradient reduction over (N, H, W)
  auto [one, many] = at_one_and_many_threads([] { return ops::sum(ops::randn({64, 32, 28, 28}), {0, 2, 3}); });
  Tensor reference;
  {
    manual_seed(11);
    Tensor x = ops::randn({64, 32, 28, 28}).to(DType::Float64);
    std::vector<double> v = x.to_vector(), r(32, 0.0);
    for (size_t i = 0; i < v.size(); ++i) r[(i / (28 * 28)) % 32] += v[i];
    reference = Tensor::from_vector(r, {32}, DType::Float64);
  }
  test::expect_close(one.to(DType::Float64), reference, 1e-6, 1e-4);
  test::expect_close(many.to(DType::Float64), reference, 1e-6, 1e-4);
}

TEST(Threading, AdamStepMatchesOneThread) {
  auto [one, many] = at_one_and_many_threads([] {
    Tensor p = ops::randn({300, 400}), g = ops::randn({300, 400});
    Tensor m = ops::zeros({300, 400}), v = ops::zeros({300, 400});
    ops::adam_step(p, g, m, v, ops::AdamOptions{}, 1);
    return p;
  });
  test::expect_close(many, one, 0, 0);
}

TEST(Threading, MaxPoolMatchesOneThread) {
  auto [one, many] = at_one_and_many_threads([] {
    Tensor x = ops::randn({16, 32, 28, 28}).set_requires_grad(true);
    Tensor y = ops::max_pool2d(x);
    ops::sum(ops::mul(y, y)).backward();
    return x.grad();  // dx = 2 y at each winner: covers forward and backward
  });
  test::expect_close(many, one, 0, 0);
}

}  // namespace
}  // namespace trainrt
