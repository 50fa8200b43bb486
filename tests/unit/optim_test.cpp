// Fused optimizer steps against hand-written torch.optim updates over several
// steps (SGD: plain, momentum + dampening + weight decay, Nesterov; Adam with
// L2 decay; AdamW), argument errors, and a small MLP whose loss decreases
// under plain SGD (the end-to-end check of ops + autograd + optimizer).
#include <cmath>

#include "reference.h"
#include "test_util.h"

namespace trainrt {
namespace {

using test::expect_close;
using test::random_tensor;

// Hand-computed torch.optim.SGD over `grads` (one vector per step), in double.
std::vector<double> ref_sgd(std::vector<double> p, const std::vector<std::vector<double>>& grads,
                            const ops::SgdOptions& o) {
  std::vector<double> buf(p.size(), 0);
  for (size_t step = 0; step < grads.size(); ++step) {
    for (size_t i = 0; i < p.size(); ++i) {
      double d = grads[step][i] + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = step == 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * d;
    }
  }
  return p;
}

// Hand-computed torch.optim.Adam / AdamW over `grads`, in double.
std::vector<double> ref_adam(std::vector<double> p, const std::vector<std::vector<double>>& grads,
                             const ops::AdamOptions& o) {
  std::vector<double> m(p.size(), 0), v(p.size(), 0);
  for (size_t s = 0; s < grads.size(); ++s) {
    double t = static_cast<double>(s + 1);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grads[s][i];
      if (o.decoupled_weight_decay) p[i] *= 1 - o.lr * o.weight_decay;
      else g += o.weight_decay * p[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      double m_hat = m[i] / (1 - std::pow(o.beta1, t));
      double v_hat = v[i] / (1 - std::pow(o.beta2, t));
      p[i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    }
  }
  return p;
}

std::vector<std::vector<double>> random_grads(int steps, int64_t n) {
  std::vector<std::vector<double>> grads;
  for (int s = 0; s < steps; ++s) grads.push_back(random_tensor({n}, -1, 1).to_vector());
  return grads;
}

// Runs sgd_step over `grads` on a (2, 3) parameter of `dtype`; returns its values.
std::vector<double> run_sgd(const std::vector<double>& p0, const std::vector<std::vector<double>>& grads,
                            const ops::SgdOptions& o, DType dtype) {
  Tensor p = Tensor::from_vector(p0, {2, 3}, dtype);
  Tensor buf = ops::zeros({2, 3}, dtype);
  for (size_t s = 0; s < grads.size(); ++s) ops::sgd_step(p, Tensor::from_vector(grads[s], {2, 3}, dtype), buf, o, s == 0);
  return p.to_vector();
}

std::vector<double> run_adam(const std::vector<double>& p0, const std::vector<std::vector<double>>& grads,
                             const ops::AdamOptions& o, DType dtype) {
  Tensor p = Tensor::from_vector(p0, {2, 3}, dtype);
  Tensor m = ops::zeros({2, 3}, dtype), v = ops::zeros({2, 3}, dtype);
  for (size_t s = 0; s < grads.size(); ++s)
    ops::adam_step(p, Tensor::from_vector(grads[s], {2, 3}, dtype), m, v, o, static_cast<int64_t>(s + 1));
  return p.to_vector();
}

void expect_near_all(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at " << i;
}

TEST(SgdStep, MatchesTorchFormulasOverThreeSteps) {
  std::vector<double> p0 = random_tensor({6}).to_vector();
  auto grads = random_grads(3, 6);
  std::vector<ops::SgdOptions> cases = {
      {.lr = 0.1},
      {.lr = 0.05, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01},
      {.lr = 0.05, .momentum = 0.8, .weight_decay = 0.1, .nesterov = true},
  };
  for (const auto& o : cases) {
    SCOPED_TRACE("momentum " + std::to_string(o.momentum) + " nesterov " + std::to_string(o.nesterov));
    std::vector<double> expected = ref_sgd(p0, grads, o);
    expect_near_all(run_sgd(p0, grads, o, DType::Float64), expected, 1e-14);
    expect_near_all(run_sgd(p0, grads, o, DType::Float32), expected, 1e-6);
  }
}

TEST(SgdStep, PlainStepByHand) {
  // p = [1, 2], g = [0.5, -1], lr 0.1  =>  [0.95, 2.1]
  Tensor p = Tensor::from_vector({1, 2}, {2}, DType::Float64);
  Tensor g = Tensor::from_vector({0.5, -1}, {2}, DType::Float64);
  Tensor unused;
  ops::sgd_step(p, g, unused, {.lr = 0.1}, true);
  expect_near_all(p.to_vector(), {0.95, 2.1}, 1e-15);
  // momentum 0.9, step 2 with the same g: buf = 0.9 * g + g = 1.9 g  =>  p -= 0.1 * 1.9 g
  Tensor q = Tensor::from_vector({1, 2}, {2}, DType::Float64), buf = ops::zeros({2}, DType::Float64);
  ops::sgd_step(q, g, buf, {.lr = 0.1, .momentum = 0.9}, true);
  ops::sgd_step(q, g, buf, {.lr = 0.1, .momentum = 0.9}, false);
  expect_near_all(q.to_vector(), {1 - 0.05 - 0.095, 2 + 0.1 + 0.19}, 1e-15);
  expect_near_all(buf.to_vector(), {0.95, -1.9}, 1e-15);
}

TEST(AdamStep, MatchesTorchFormulasOverThreeSteps) {
  std::vector<double> p0 = random_tensor({6}).to_vector();
  auto grads = random_grads(3, 6);
  std::vector<ops::AdamOptions> cases = {
      {},
      {.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6},
      {.lr = 0.01, .weight_decay = 0.1},                                   // Adam, L2 in the gradient
      {.lr = 0.01, .weight_decay = 0.1, .decoupled_weight_decay = true},   // AdamW
  };
  for (const auto& o : cases) {
    SCOPED_TRACE("wd " + std::to_string(o.weight_decay) + " decoupled " + std::to_string(o.decoupled_weight_decay));
    std::vector<double> expected = ref_adam(p0, grads, o);
    expect_near_all(run_adam(p0, grads, o, DType::Float64), expected, 1e-14);
    expect_near_all(run_adam(p0, grads, o, DType::Float32), expected, 1e-6);
  }
}

TEST(AdamStep, FirstStepMovesByLrTimesSign) {
  // step 1: m_hat = g, v_hat = g^2  =>  p -= lr * g / (|g| + eps)
  Tensor p = Tensor::from_vector({1, -1, 0.5}, {3}, DType::Float64);
  Tensor g = Tensor::from_vector({3, -0.2, 0.01}, {3}, DType::Float64);
  Tensor m = ops::zeros({3}, DType::Float64), v = ops::zeros({3}, DType::Float64);
  ops::adam_step(p, g, m, v, {.lr = 0.1, .eps = 0}, 1);
  expect_near_all(p.to_vector(), {0.9, -0.9, 0.4}, 1e-12);
  expect_near_all(m.to_vector(), {0.3, -0.02, 0.001}, 1e-15);
  expect_near_all(v.to_vector(), {0.009, 0.00004, 0.0000001}, 1e-15);
}

TEST(AdamStep, AdamWDecayDiffersFromL2) {
  std::vector<double> p0 = {2, -2, 1, 0.5, -0.5, 3};
  auto grads = random_grads(2, 6);
  ops::AdamOptions l2{.lr = 0.01, .weight_decay = 0.5}, adamw{.lr = 0.01, .weight_decay = 0.5, .decoupled_weight_decay = true};
  std::vector<double> a = run_adam(p0, grads, l2, DType::Float64), b = run_adam(p0, grads, adamw, DType::Float64);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += std::abs(a[i] - b[i]);
  EXPECT_GT(diff, 1e-4);
}

TEST(OptimStep, ArgumentErrorsNameShapesAndDtypes) {
  Tensor p = ops::zeros({3}), g4 = ops::zeros({4}), g64 = ops::zeros({3}, DType::Float64), buf = ops::zeros({3});
  Tensor none;
  EXPECT_ERROR_CONTAINS(ops::sgd_step(p, g4, buf, {}, true), "sgd_step: param (3) and grad (4) - shapes differ");
  EXPECT_ERROR_CONTAINS(ops::sgd_step(p, g64, buf, {}, true), "sgd_step: param is float32 but grad is float64");
  EXPECT_ERROR_CONTAINS(ops::sgd_step(p, ops::zeros({3}), none, {.momentum = 0.9}, true),
                        "sgd_step: momentum_buf is undefined");
  EXPECT_ERROR_CONTAINS(ops::sgd_step(p, ops::zeros({3}), buf, {.nesterov = true}, true),
                        "sgd_step: nesterov needs momentum > 0 and dampening 0");
  Tensor pt = ops::zeros({2, 3}).t();
  EXPECT_ERROR_CONTAINS(ops::sgd_step(pt, ops::zeros({3, 2}), none, {}, true), "sgd_step: param (3, 2) is not contiguous");
  Tensor m = ops::zeros({3}), v = ops::zeros({2});
  EXPECT_ERROR_CONTAINS(ops::adam_step(p, ops::zeros({3}), m, v, {}, 1),
                        "adam_step: param (3) and exp_avg_sq (2) - shapes differ");
  Tensor v3 = ops::zeros({3});
  EXPECT_ERROR_CONTAINS(ops::adam_step(p, ops::zeros({3}), m, v3, {}, 0), "adam_step: step is 1-based, got 0");
  EXPECT_ERROR_CONTAINS(ops::adam_step(p, ops::zeros({3}), m, v3, {.beta1 = 1.0}, 1), "adam_step: betas must be in [0, 1)");
}

// A 2-layer MLP (4 -> 16 -> 3) on a synthetic float32 classification task whose
// labels come from a fixed linear rule; plain SGD must bring the loss down.
TEST(Training, SmallMlpLossDecreasesUnderPlainSgd) {
  manual_seed(2024);
  const int64_t n = 128, in = 4, hidden = 16, classes = 3;
  Tensor x = ops::randn({n, in});
  Tensor rule = ops::randn({in, classes});
  Tensor y = ops::argmax(ops::matmul(x, rule), 1);  // int64 labels (n)

  auto param = [](Shape shape, bool kaiming) {
    Tensor t = ops::zeros(shape);
    if (kaiming) ops::kaiming_uniform_(t);
    t.set_requires_grad(true);
    return t;
  };
  std::vector<Tensor> params = {param({hidden, in}, true), param({hidden}, false), param({classes, hidden}, true),
                                param({classes}, false)};
  auto forward = [&]() {
    Tensor h = ops::relu(ops::linear(x, params[0], params[1]));  // (n, hidden)
    return ops::cross_entropy(ops::linear(h, params[2], params[3]), y);
  };

  double first = 0, last = 0;
  Tensor no_buf;
  for (int step = 0; step < 200; ++step) {
    for (Tensor& p : params) p.zero_grad();
    Tensor loss = forward();
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) ops::sgd_step(p, p.grad(), no_buf, {.lr = 0.5}, step == 0);
  }
  EXPECT_LT(last, 0.5 * first) << "loss went from " << first << " to " << last;
  Tensor predicted = ops::argmax(ops::linear(ops::relu(ops::linear(x, params[0], params[1])), params[2], params[3]), 1);
  double correct = ops::sum(ops::eq(predicted, y)).item();
  EXPECT_GT(correct / n, 0.85);
}

}  // namespace
}  // namespace trainrt
