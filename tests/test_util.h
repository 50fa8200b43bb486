// Helpers shared by the tests: float64 references, finite differences and
// value comparison with readable failure messages.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"
#include "trainrt/stream.h"
#include "trainrt/tensor.h"

namespace trainrt::test {

// Random float64 tensor with values in [low, high) (never all zeros).
inline Tensor random_tensor(const Shape& shape, double low = -1, double high = 1, DType dtype = DType::Float64) {
  return ops::rand(shape, low, high, dtype);
}

// Asserts |a - b| <= atol + rtol * |b| elementwise, naming the first bad index.
inline void expect_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-5, double atol = 1e-6) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << actual.shape_str() << " vs " << expected.shape_str();
  std::vector<double> a = actual.to_vector(), b = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], atol + rtol * std::abs(b[i])) << "at flat index " << i;
  }
}

// Asserts the same values bit for bit as far as doubles tell (float -> double is
// exact): equal with the same sign of zero, or both NaN; `what` names the case.
inline void expect_bitwise(const Tensor& actual, const Tensor& expected, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(actual.sizes(), expected.sizes());
  std::vector<double> a = actual.to_vector(), b = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(b[i])) {
      ASSERT_TRUE(std::isnan(a[i])) << "at flat index " << i << ": " << a[i] << " vs NaN";
      continue;
    }
    ASSERT_TRUE(a[i] == b[i] && std::signbit(a[i]) == std::signbit(b[i]))
        << "at flat index " << i << ": " << a[i] << " vs " << b[i];
  }
}

// Checks d(sum(f(inputs) * w))/d(input_k) against central finite differences in
// float64 for every input that requires grad; w is a fixed random weighting so
// every output element matters.
inline void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                            double eps = 1e-6, double tol = 1e-5) {
  for (auto& t : inputs)
    if (t.requires_grad()) t.zero_grad();
  Tensor out = f(inputs);
  Tensor w = ops::rand(out.sizes(), 0.5, 1.5, out.dtype());
  Tensor loss = ops::sum(ops::mul(out, w));
  loss.backward();
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    Tensor grad = inputs[k].grad();
    ASSERT_TRUE(grad.defined()) << "no gradient reached input " << k;
    std::vector<double> analytic = grad.to_vector();
    Tensor& x = inputs[k];
    ASSERT_TRUE(x.is_contiguous()) << "finite differences need contiguous leaf inputs";
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double saved = p[i];
      p[i] = saved + eps;
      double plus = ops::sum(ops::mul(f(inputs), w)).item();
      p[i] = saved - eps;
      double minus = ops::sum(ops::mul(f(inputs), w)).item();
      p[i] = saved;
      double numeric = (plus - minus) / (2 * eps);
      ASSERT_NEAR(analytic[i], numeric, tol * std::max(1.0, std::abs(numeric)))
          << "input " << k << " flat index " << i;
    }
  }
}

// Runs fn, expecting trainrt::Error whose message contains `needle`. A kernel's
// error may surface only when the host waits (asynchronous queues), so the
// queues are synchronised inside the try.
#define EXPECT_ERROR_CONTAINS(stmt, needle)                                               \
  do {                                                                                   \
    try {                                                                                \
      stmt;                                                                              \
      ::trainrt::synchronize_all();                                                      \
      ADD_FAILURE() << "expected trainrt::Error containing: " << (needle);                \
    } catch (const ::trainrt::Error& e) {                                                \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();      \
    }                                                                                    \
  } while (0)

// A float64 leaf that requires grad.
inline Tensor leaf(const Shape& shape, double low = -1, double high = 1) {
  Tensor t = random_tensor(shape, low, high);
  t.set_requires_grad(true);
  return t;
}

}  // namespace trainrt::test
