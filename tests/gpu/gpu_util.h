// Helpers for the CUDA tests: skipping without a GPU (always a skip, also on
// CI, which has none), and running one function on the CPU and on cuda:0 with
// the same inputs to compare outputs and gradients. The CPU is the reference
// (STYLE.md: consistency tests compare every device with CPU); nothing here
// computes a reference value itself.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "trainrt/devices.h"
#include "trainrt/gradcheck.h"

namespace trainrt::test {

inline Device cuda(int index = 0) { return Device{DeviceType::CUDA, index}; }

}  // namespace trainrt::test

// Skips the test unless `n` CUDA devices are visible (after main() loaded the
// plugins). Not REQUIRE_OR_SKIP: no GPU is the normal case on CI, not a broken
// install.
#define REQUIRE_CUDA_DEVICES(n)                                                                       \
  do {                                                                                                \
    const int visible_ = ::trainrt::device_count(::trainrt::DeviceType::CUDA);                        \
    if (visible_ == 0)                                                                                \
      GTEST_SKIP() << "no CUDA device: " << ::trainrt::no_device_reason(::trainrt::DeviceType::CUDA); \
    if (visible_ < (n)) GTEST_SKIP() << "needs " << (n) << " CUDA devices, " << visible_ << " visible"; \
  } while (0)
#define REQUIRE_CUDA() REQUIRE_CUDA_DEVICES(1)

namespace trainrt::test {

// Default tolerance of a CUDA result against the CPU's: float64 agrees to
// rounding (other summation orders), float32 to 1e-4 relative (TF32 is off).
inline double cuda_tolerance(DType dtype) { return dtype == DType::Float64 ? 1e-10 : 1e-4; }

// Expects `actual` (computed on a CUDA device) to hold the CPU's values:
// same shape and dtype, and |a - e| <= tol * (|e| + max|e| / 16) elementwise
// (the second term absorbs cancellation in sums of many terms). tol = 0:
// exact, NaN equal to NaN. Reports the count and the first bad element.
inline void expect_matches(const Tensor& actual, const Tensor& expected, double tol, const std::string& what) {
  ASSERT_TRUE(actual.defined() && expected.defined()) << what << ": undefined result";
  EXPECT_EQ(actual.device().type, DeviceType::CUDA) << what << ": the CUDA result lives on " << actual.device().str();
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what << ": " << actual.shape_str() << " vs " << expected.shape_str();
  ASSERT_EQ(actual.dtype(), expected.dtype()) << what << ": " << dtype_name(actual.dtype()) << " vs "
                                             << dtype_name(expected.dtype());
  std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  double scale = 0;
  for (double v : e)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok = (std::isnan(a[i]) && std::isnan(e[i])) || a[i] == e[i] ||
              (tol > 0 && std::abs(a[i] - e[i]) <= tol * (std::abs(e[i]) + scale / 16));
    if (!ok && bad++ == 0) first = static_cast<int64_t>(i);
  }
  if (bad > 0) {
    std::ostringstream msg;
    msg.precision(17);
    msg << what << ": " << bad << " of " << a.size() << " elements differ (tol " << tol << "), first at "
        << index_str(expected.sizes(), first) << ": cuda " << a[static_cast<size_t>(first)] << " vs cpu "
        << e[static_cast<size_t>(first)];
    ADD_FAILURE() << msg.str();
  }
}

inline void expect_matches(const Tensor& actual, const Tensor& expected, const std::string& what) {
  expect_matches(actual, expected, is_floating(expected.dtype()) ? cuda_tolerance(expected.dtype()) : 0, what);
}

// The same values on `device` as a new leaf, requiring grad when `t` does.
inline Tensor leaf_on(const Tensor& t, Device device) {
  if (!t.defined()) return t;
  Tensor out = t.detach().to(device).contiguous();
  if (t.device() == device) out = out.clone();  // never share storage with the caller's tensor
  if (t.requires_grad()) out.set_requires_grad(true);
  return out;
}

using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct SameOnCuda {
  double tol = -1;        // < 0: cuda_tolerance of each output's dtype; 0: exact
  bool backward = true;   // also compare gradients of the inputs that require grad
};

// Runs fn on `inputs` (CPU tensors; undefined ones pass through) and on copies
// on cuda:0, and compares every output. Then backpropagates sum_k sum(out_k *
// w_k), with the same random weights w_k on both devices, and compares the
// gradient of every input that requires grad. fn applies any views itself
// (transpose, narrow, expand), so both devices see the same geometry.
inline void expect_same_on_cuda(const std::string& what, const MultiFn& fn, const std::vector<Tensor>& inputs,
                                SameOnCuda options = {}) {
  SCOPED_TRACE(what);
  std::vector<Tensor> on_cpu, on_cuda;
  for (const Tensor& t : inputs) {
    on_cpu.push_back(leaf_on(t, Device::cpu()));
    on_cuda.push_back(leaf_on(t, cuda()));
  }
  std::vector<Tensor> expected = fn(on_cpu), actual = fn(on_cuda);
  ASSERT_EQ(expected.size(), actual.size());
  Tensor loss_cpu, loss_cuda;
  for (size_t k = 0; k < expected.size(); ++k) {
    double tol = options.tol >= 0 ? options.tol : is_floating(expected[k].dtype()) ? cuda_tolerance(expected[k].dtype()) : 0;
    expect_matches(actual[k], expected[k], tol, what + " output " + std::to_string(k));
    if (!options.backward || !expected[k].requires_grad()) continue;
    Tensor w = ops::rand(expected[k].sizes(), 0.5, 1.5, expected[k].dtype());
    Tensor term_cpu = ops::sum(ops::mul(expected[k], w)), term_cuda = ops::sum(ops::mul(actual[k], w.to(cuda())));
    loss_cpu = loss_cpu.defined() ? ops::add(loss_cpu, term_cpu) : term_cpu;
    loss_cuda = loss_cuda.defined() ? ops::add(loss_cuda, term_cuda) : term_cuda;
  }
  if (!loss_cpu.defined()) return;
  loss_cpu.backward();
  loss_cuda.backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!on_cpu[i].defined() || !on_cpu[i].requires_grad()) continue;
    Tensor g_cpu = on_cpu[i].grad(), g_cuda = on_cuda[i].grad();
    ASSERT_TRUE(g_cpu.defined() && g_cuda.defined()) << what << ": no gradient reached input " << i;
    double tol = options.tol >= 0 ? options.tol : cuda_tolerance(g_cpu.dtype());
    expect_matches(g_cuda, g_cpu, tol, what + " gradient of input " + std::to_string(i));
  }
}

// Uniform values in [low, high) on the CPU, as a leaf that requires grad when
// the dtype is floating and `grad` is true.
inline Tensor input(const Shape& shape, DType dtype = DType::Float64, double low = -1, double high = 1,
                    bool grad = true) {
  Tensor t = ops::rand(shape, low, high, DType::Float64).to(dtype);
  if (grad && is_floating(dtype)) t.set_requires_grad(true);
  return t;
}

// Small whole numbers 0 .. n-1 (ties on purpose) as `dtype`, no grad.
inline Tensor whole_numbers(const Shape& shape, int64_t n, DType dtype) {
  return ops::rand(shape, 0, static_cast<double>(n), DType::Float64).to(DType::Int64).to(dtype);
}

// Class labels in [0, classes) (int64), for nll_loss and cross_entropy.
inline Tensor labels(int64_t n, int64_t classes) { return whole_numbers({n}, classes, DType::Int64); }

inline const std::vector<DType>& floating_dtypes() {
  static const std::vector<DType> dtypes = {DType::Float32, DType::Float64};
  return dtypes;
}

inline std::vector<Tensor> outputs(Tensor t) { return {std::move(t)}; }

}  // namespace trainrt::test
