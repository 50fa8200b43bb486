// Gradient checking: autograd against central finite differences, for plugin
// authors (`trainrt check-plugin`), Lua modules (`trainrt.gradcheck`) and tests.
// It returns a result to print or assert on; it never throws for a wrong
// gradient (only when fn itself throws). Not here: which inputs a plugin
// layer gets (cli/check_plugin_command.cpp), Lua conversion (lua/bind_gradcheck.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt {

// Zero or negative = the default for the checked dtype. float64: eps 1e-6,
// atol 1e-5, rtol 1e-3 (PyTorch's). float32 (any checked input or output is
// float32): eps 1e-3, atol 1e-2, rtol 1e-2: the function runs on float32
// values, so differences of its result carry float32 rounding (~1e-7 of each
// output) divided by 2 eps.
struct GradcheckOptions {
  double eps = 0;
  double atol = 0;
  double rtol = 0;
  uint64_t seed = 0x6772616463686bULL;  // the output weights (a fixed stream, not the run's generator)
};

struct GradcheckResult {
  bool passed = false;
  double max_abs_error = 0;  // max |autograd - numeric|
  double max_rel_error = 0;  // max |autograd - numeric| / max(|numeric|, atol)
  int worst_input = -1;      // input and flat (row-major) index of the element
  int64_t worst_index = -1;  // furthest outside (or closest to) its tolerance
  double worst_analytic = 0, worst_numeric = 0;
  int64_t checked = 0;       // elements compared
  int64_t mismatched = 0;    // elements outside |a - n| <= atol + rtol * |n|
  double eps = 0, atol = 0, rtol = 0;  // what was used
  std::string message;       // one line; empty when passed
};

// Every output, in order (undefined entries are skipped).
using GradcheckFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// For every input that requires grad (floating, any device), compares
// d/dx sum_k sum(w_k * out_k) from one backward with central differences
// (f(x + eps e_i) - f(x - eps e_i)) / (x_i+ - x_i-), the actual perturbation
// after rounding to the input's dtype. w_k are fixed random weights in
// [0.5, 1.5] per output that requires grad in the autograd pass; outputs that
// do not (non-differentiable ones) or are not floating are left out. Inputs
// keep their geometry (a transposed input stays transposed) in the autograd
// pass; the finite differences perturb contiguous copies. fn must not keep or
// modify its inputs. Fails, with a message, also when no input requires grad,
// no output does, or an output is not finite.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The defaults above for a dtype (eps, atol, rtol).
GradcheckOptions default_gradcheck_options(DType dtype);

// Compares two tensors of the same shape elementwise (|a - b| <= atol + rtol * |b|),
// filling the error fields of a GradcheckResult (worst_index, max errors,
// mismatched) and `message` ("<what> at index (1, 2): 0.5 vs 0.25 ..."). For
// checks that compare runs rather than derivatives (strided against contiguous).
GradcheckResult compare_tensors(const Tensor& actual, const Tensor& expected, double atol, double rtol,
                                const std::string& what);

// "(1, 2)" for flat index i of a row-major tensor of these sizes.
std::string index_str(const Shape& sizes, int64_t flat);

}  // namespace trainrt
