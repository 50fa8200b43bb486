// Gradient checking (gradcheck.h): one autograd pass of sum_k sum(w_k * out_k),
// then two evaluations per checked element for central differences. Small
// inputs only: the cost is 2 * (checked elements) calls of fn.
// Not here: what a plugin layer is fed (cli/check_plugin_command.cpp).
#include "trainrt/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"

namespace trainrt {
namespace {

class GradModeScope {
 public:
  explicit GradModeScope(bool enabled) : previous_(grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeScope() { set_grad_enabled(previous_); }
  GradModeScope(const GradModeScope&) = delete;
  GradModeScope& operator=(const GradModeScope&) = delete;

 private:
  bool previous_;
};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Folds element comparisons into a result; `score` = error / tolerance picks the worst.
struct Tally {
  GradcheckResult& r;
  double worst_score = -1;

  void add(int input, int64_t index, double actual, double expected, double atol, double rtol) {
    double err = std::abs(actual - expected);
    if (std::isnan(actual) != std::isnan(expected) || std::isinf(actual) || std::isinf(expected))
      err = actual == expected ? 0 : INFINITY;
    double bound = atol + rtol * std::abs(expected);
    double score = err / bound;
    if (std::isnan(score)) score = INFINITY;
    ++r.checked;
    if (!(err <= bound)) ++r.mismatched;
    r.max_abs_error = std::max(r.max_abs_error, err);
    r.max_rel_error = std::max(r.max_rel_error, err / std::max(std::abs(expected), atol));
    if (score > worst_score) {
      worst_score = score;
      r.worst_input = input;
      r.worst_index = index;
      r.worst_analytic = actual;
      r.worst_numeric = expected;
    }
  }
};

std::vector<double> weights_for(std::mt19937_64& rng, int64_t n) {
  std::uniform_real_distribution<double> u(0.5, 1.5);
  std::vector<double> w(static_cast<size_t>(n));
  for (double& v : w) v = u(rng);
  return w;
}

// sum_k dot(out_k, w_k) in float64 over the weighted outputs.
double weighted_sum(const std::vector<Tensor>& outs, const std::vector<std::vector<double>>& w,
                    const std::vector<bool>& weighted) {
  double total = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!weighted[k]) continue;
    std::vector<double> v = outs[k].to_vector();
    for (size_t i = 0; i < v.size(); ++i) total += v[i] * w[k][i];
  }
  return total;
}

// Perturbs element i of a contiguous CPU float tensor to value+delta; returns the
// value actually stored minus the original (rounding to float32 changes it).
double set_element(Tensor& t, int64_t i, double value) {
  if (t.dtype() == DType::Float32) {
    float stored = static_cast<float>(value);
    t.data<float>()[i] = stored;
    return stored;
  }
  t.data<double>()[i] = value;
  return value;
}

}  // namespace

std::string index_str(const Shape& sizes, int64_t flat) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    int64_t s = std::max<int64_t>(sizes[d], 1);
    idx[d] = flat % s;
    flat /= s;
  }
  std::string text = "(";
  for (size_t d = 0; d < idx.size(); ++d) text += (d ? ", " : "") + std::to_string(idx[d]);
  return text + ")";
}

GradcheckOptions default_gradcheck_options(DType dtype) {
  GradcheckOptions o;
  if (dtype == DType::Float64) {
    o.eps = 1e-6, o.atol = 1e-5, o.rtol = 1e-3;
  } else {
    o.eps = 1e-3, o.atol = 1e-2, o.rtol = 1e-2;
  }
  return o;
}

GradcheckResult compare_tensors(const Tensor& actual, const Tensor& expected, double atol, double rtol,
                                const std::string& what) {
  GradcheckResult r;
  r.atol = atol, r.rtol = rtol;
  if (actual.sizes() != expected.sizes()) {
    r.message = what + ": shape " + actual.shape_str() + " vs " + expected.shape_str();
    return r;
  }
  Tally tally{r};
  std::vector<double> a = actual.to_vector(), b = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i) tally.add(0, static_cast<int64_t>(i), a[i], b[i], atol, rtol);
  r.passed = r.mismatched == 0;
  if (!r.passed)
    r.message = what + " at index " + index_str(actual.sizes(), r.worst_index) + ": " + number(r.worst_analytic) +
                " vs " + number(r.worst_numeric) + " (" + std::to_string(r.mismatched) + " of " +
                std::to_string(r.checked) + " elements differ by more than " + number(atol) + " + " + number(rtol) +
                " * |expected|)";
  return r;
}

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  GradcheckResult r;
  std::vector<bool> checked(inputs.size(), false);
  bool any_float32 = false;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    TRT_CHECK(is_floating(x.dtype()), "gradcheck: input ", k + 1, " requires grad but is ", dtype_name(x.dtype()));
    checked[k] = true;
    any_float32 = any_float32 || x.dtype() == DType::Float32;
  }
  if (std::none_of(checked.begin(), checked.end(), [](bool c) { return c; })) {
    r.message = "no input requires grad (set requires_grad on the inputs to check)";
    return r;
  }

  // Autograd pass on detached leaves that keep each input's geometry.
  std::vector<Tensor> args(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) continue;
    args[k] = inputs[k].detach();
    if (checked[k]) args[k].set_requires_grad(true);
  }
  std::vector<Tensor> outs;
  {
    GradModeScope grad_on(true);
    outs = fn(args);
  }
  std::vector<bool> weighted(outs.size(), false);
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& o = outs[k];
    if (!o.defined() || !is_floating(o.dtype())) continue;
    std::vector<double> v = o.to_vector();
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) {
        r.message = "output " + std::to_string(k + 1) + " is not finite at index " +
                    index_str(o.sizes(), static_cast<int64_t>(i)) + " (" + number(v[i]) + ")";
        return r;
      }
    weighted[k] = o.requires_grad();
    any_float32 = any_float32 || (weighted[k] && o.dtype() == DType::Float32);
  }
  if (std::none_of(weighted.begin(), weighted.end(), [](bool w) { return w; })) {
    r.message = "no output requires grad: the function's result does not depend differentiably on its inputs";
    return r;
  }

  GradcheckOptions defaults = default_gradcheck_options(any_float32 ? DType::Float32 : DType::Float64);
  r.eps = options.eps > 0 ? options.eps : defaults.eps;
  r.atol = options.atol > 0 ? options.atol : defaults.atol;
  r.rtol = options.rtol > 0 ? options.rtol : defaults.rtol;

  std::mt19937_64 rng(options.seed);
  std::vector<std::vector<double>> w(outs.size());
  {
    GradModeScope grad_on(true);
    Tensor loss;
    for (size_t k = 0; k < outs.size(); ++k) {
      if (!weighted[k]) continue;
      const Tensor& o = outs[k];
      Tensor wk = Tensor::from_vector(weights_for(rng, o.numel()), o.sizes(), o.dtype()).to(o.device());
      w[k] = wk.to_vector();  // as rounded to the output's dtype
      Tensor term = ops::sum(ops::mul(o, wk)).to(DType::Float64);
      loss = loss.defined() ? ops::add(loss, term) : term;
    }
    loss.backward();
  }
  std::vector<std::vector<double>> analytic(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!checked[k]) continue;
    Tensor g = args[k].grad();
    analytic[k] = g.defined() ? g.to_vector() : std::vector<double>(static_cast<size_t>(inputs[k].numel()), 0.0);
  }
  args.clear();
  outs.clear();

  // Finite differences on contiguous CPU copies, uploaded per call when the input lives elsewhere.
  NoGradGuard no_grad;
  std::vector<Tensor> work(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) continue;
    work[k] = checked[k] ? inputs[k].detach().to(Device::cpu()).clone() : inputs[k].detach();
  }
  auto evaluate = [&]() {
    std::vector<Tensor> call(work.size());
    for (size_t k = 0; k < work.size(); ++k)
      call[k] = checked[k] && inputs[k].device() != Device::cpu() ? work[k].to(inputs[k].device()) : work[k];
    return weighted_sum(fn(call), w, weighted);
  };
  Tally tally{r};
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!checked[k]) continue;
    Tensor& x = work[k];
    for (int64_t i = 0; i < x.numel(); ++i) {
      double saved = x.dtype() == DType::Float32 ? x.data<float>()[i] : x.data<double>()[i];
      double hi = set_element(x, i, saved + r.eps);
      double plus = evaluate();
      double lo = set_element(x, i, saved - r.eps);
      double minus = evaluate();
      set_element(x, i, saved);
      double numeric = (plus - minus) / (hi - lo);
      tally.add(static_cast<int>(k), i, analytic[k][static_cast<size_t>(i)], numeric, r.atol, r.rtol);
    }
  }
  r.passed = r.mismatched == 0;
  if (!r.passed) {
    const Tensor& x = inputs[static_cast<size_t>(r.worst_input)];
    r.message = "gradient of input " + std::to_string(r.worst_input + 1) + " " + x.shape_str() + " at index " +
                index_str(x.sizes(), r.worst_index) + ": autograd " + number(r.worst_analytic) +
                " vs finite differences " + number(r.worst_numeric) + " (" + std::to_string(r.mismatched) + " of " +
                std::to_string(r.checked) + " elements outside " + number(r.atol) + " + " + number(r.rtol) +
                " * |numeric|; eps " + number(r.eps) + ")";
  }
  return r;
}

}  // namespace trainrt
