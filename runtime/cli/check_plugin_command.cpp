// `trainrt check-plugin PATH [--layer NAME] [--attr NAME=VALUE]... [--dtype D]`:
// loads one plugin beside the built-in ones and, for every layer it registers,
// checks forward and backward on example inputs: gradients against finite
// differences, strided inputs and grad_outputs against contiguous ones, finite
// outputs, each other device against CPU. Prints a table; exit 0 all passed,
// 1 a check failed or the plugin was refused, 2 usage. Not here: the checker (gradcheck.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trainrt/devices.h"
#include "trainrt/allocator.h"
#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/gradcheck.h"
#include "trainrt/ops.h"
#include "trainrt/ops/layer.h"
#include "trainrt/plugins.h"

namespace trainrt::cli {
namespace {

constexpr const char* kUsage = "usage: trainrt check-plugin PATH [--layer NAME] [--attr NAME=VALUE]... [--dtype float32|float64] [run options]";

void print_check_usage() {
  std::printf(
      "%s\n\n"
      "Loads the plugin at PATH (after the built-in ones) and checks each layer it\n"
      "registers, or only --layer NAME:\n"
      "  gradient          backward against central finite differences of sum_k sum(w_k * out_k)\n"
      "  finite            every output is finite\n"
      "  transposed-input  inputs fed as transposed / narrowed / expanded (stride 0) views give the\n"
      "  narrowed-input    same outputs and gradients as contiguous ones (catches kernels of\n"
      "  expanded-input    TRT_LAYER_STRIDED_INPUTS layers that ignore strides)\n"
      "  transposed-grad   a transposed / expanded grad_output gives the same gradients\n"
      "  expanded-grad\n"
      "  <device>          each other device with a kernel for the layer against CPU\n"
      "Inputs have the shapes example_input() gives (else (4, 6)); parameters come from\n"
      "param(), perturbed off their initial values; attributes take --attr values, else\n"
      "default_value (for required ones too: give them a sensible example default).\n"
      "float64 is used when the layer runs it, else float32 with looser tolerances.\n"
      "Exit status: 0 every check passed, 1 a check failed or the plugin was refused, 2 usage.\n",
      kUsage);
}

struct CheckOptions {
  std::string path;
  std::optional<std::string> layer;
  std::map<std::string, double> named_attrs;
  std::vector<double> positional_attrs;
  std::optional<DType> dtype;
  RunOptions run;
  bool help = false;
};

double parse_number(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("check-plugin: " + what + " expects a number, got '" + text + "'");
}

CheckOptions parse_options(const std::vector<std::string>& args) {
  CheckOptions o;
  auto value_of = [&](size_t& i, const std::string& flag) -> std::string {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) return a.substr(flag.size() + 1);
    if (i + 1 >= args.size()) throw UsageError("check-plugin: " + flag + " expects a value (" + kUsage + ")");
    return args[++i];
  };
  auto is_flag = [](const std::string& a, const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (is_flag(a, "--layer")) {
      o.layer = value_of(i, "--layer");
    } else if (is_flag(a, "--attr")) {
      std::string kv = value_of(i, "--attr");
      size_t eq = kv.find('=');
      if (eq == std::string::npos) o.positional_attrs.push_back(parse_number(kv, "--attr"));
      else o.named_attrs[kv.substr(0, eq)] = parse_number(kv.substr(eq + 1), "--attr " + kv.substr(0, eq));
    } else if (is_flag(a, "--dtype")) {
      std::string d = value_of(i, "--dtype");
      if (d != "float32" && d != "float64") throw UsageError("check-plugin: --dtype expects float32 or float64, got '" + d + "'");
      o.dtype = dtype_from_name(d);
    } else if (size_t used = take_run_option(args, i, o.run); used > 0) {
      i += used - 1;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError("check-plugin: unknown option " + a + " (" + kUsage + ")");
    } else if (o.path.empty()) {
      o.path = a;
    } else {
      throw UsageError("check-plugin: one PATH at a time, got '" + o.path + "' and '" + a + "'");
    }
  }
  if (o.path.empty()) throw UsageError(std::string("check-plugin: missing PATH (") + kUsage + ")");
  return o;
}

// ---- one table row per check ----------------------------------------------

struct Row {
  std::string device, dtype, check;
  std::optional<GradcheckResult> errors;  // the numbers, when the check compares values
  std::string status;                     // PASS, FAIL, skip
  std::string detail;                     // printed under the row (why it failed or was skipped)
};

class Table {
 public:
  explicit Table(size_t layer_width) : width_(std::max<size_t>(layer_width, 5)) {
    std::printf("%-*s  %-6s  %-7s  %-16s  %11s  %11s  %s\n", static_cast<int>(width_), "layer", "device", "dtype",
                "check", "max abs err", "max rel err", "result");
  }
  void note(const std::string& layer, const std::string& text) {
    std::printf("%-*s  note: %s\n", static_cast<int>(width_), layer.c_str(), text.c_str());
  }
  void print(const std::string& layer, const Row& row) {
    std::string abs_err = "-", rel_err = "-";
    if (row.errors && row.errors->checked > 0) {
      abs_err = format(row.errors->max_abs_error);
      rel_err = format(row.errors->max_rel_error);
    }
    std::printf("%-*s  %-6s  %-7s  %-16s  %11s  %11s  %s\n", static_cast<int>(width_), layer.c_str(),
                row.device.c_str(), row.dtype.c_str(), row.check.c_str(), abs_err.c_str(), rel_err.c_str(),
                row.status.c_str());
    if (!row.detail.empty()) std::printf("%*s  %s\n", static_cast<int>(width_), "", row.detail.c_str());
    std::fflush(stdout);
  }

 private:
  static std::string format(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2e", v);
    return buf;
  }
  size_t width_;
};

// Merges comparison `r` into `total` (max errors; first failure's message).
void merge(GradcheckResult& total, const GradcheckResult& r) {
  total.checked += r.checked;
  total.mismatched += r.mismatched;
  total.max_abs_error = std::max(total.max_abs_error, r.max_abs_error);
  total.max_rel_error = std::max(total.max_rel_error, r.max_rel_error);
  if (!r.passed && total.message.empty()) total.message = r.message.empty() ? "comparison failed" : r.message;
  total.passed = total.message.empty();
}

// ---- the layer under test ---------------------------------------------------

struct LayerSetup {
  std::string name;
  const trt_layer_def* def = nullptr;
  ops::LayerAttrValues attrs;
  std::vector<Shape> data_shapes;                         // non-parameter inputs
  std::vector<std::pair<std::string, Tensor>> parameters;  // as param() makes them (float32 preset)
  std::vector<std::string> notes;
};

// The tolerances for comparing two runs that should agree up to summation order.
std::pair<double, double> consistency_tolerance(DType dtype) {
  return dtype == DType::Float64 ? std::pair{1e-9, 1e-7} : std::pair{1e-5, 1e-4};
}

std::vector<Tensor> run_layer(const LayerSetup& s, const std::vector<Tensor>& inputs) {
  return ops::layer_outputs(s.name, inputs, s.attrs);
}

// Values for every input at `dtype`: data inputs U(-1, 1), floating parameters
// their initial values plus U(-0.5, 0.5) (ones and zeros would hide a swapped gradient).
std::vector<Tensor> example_values(const LayerSetup& s, DType dtype) {
  NoGradGuard no_grad;
  std::vector<Tensor> values;
  for (const Shape& shape : s.data_shapes) values.push_back(ops::rand(shape, -1, 1, dtype));
  for (const auto& [name, p] : s.parameters) {
    if (!is_floating(p.dtype())) {
      values.push_back(p.detach());
      continue;
    }
    values.push_back(ops::add(p.detach().to(dtype), ops::rand(p.sizes(), -0.5, 0.5, dtype)));
  }
  return values;
}

// One forward and backward: leaves (made from `bases`, requiring grad when the
// layer is differentiable) -> inputs through `view` -> outputs -> backward of
// each differentiable output with grad_output `grad_for(k, out)`.
struct Pass {
  std::vector<Tensor> outputs;
  std::vector<Tensor> grads;  // of the leaves; undefined where none arrived
};

Pass run_pass(const LayerSetup& s, const std::vector<Tensor>& bases, bool differentiable,
              const std::function<Tensor(size_t, const Tensor&)>& view,
              const std::function<Tensor(size_t, const Tensor&)>& grad_for) {
  Pass p;
  std::vector<Tensor> leaves, inputs;
  for (size_t k = 0; k < bases.size(); ++k) {
    Tensor leaf = bases[k].detach();
    if (differentiable && is_floating(leaf.dtype())) leaf.set_requires_grad(true);
    leaves.push_back(leaf);
    inputs.push_back(view(k, leaf));
  }
  std::vector<Tensor> outs = run_layer(s, inputs);
  std::vector<size_t> roots;
  for (size_t k = 0; k < outs.size(); ++k)
    if (outs[k].defined() && outs[k].requires_grad()) roots.push_back(k);
  for (size_t r = 0; r < roots.size(); ++r) {
    const Tensor& out = outs[roots[r]];
    out.backward(grad_for(roots[r], out), /*retain_graph=*/r + 1 < roots.size());
  }
  for (const Tensor& o : outs) p.outputs.push_back(o.defined() ? o.detach() : o);
  for (const Tensor& leaf : leaves) {
    p.grads.push_back(leaf.requires_grad() ? leaf.grad() : Tensor());
  }
  return p;
}

// Compares two passes: every output and every gradient.
GradcheckResult compare_passes(const Pass& actual, const Pass& expected, DType dtype) {
  auto [atol, rtol] = consistency_tolerance(dtype);
  GradcheckResult total;
  total.passed = true;
  for (size_t k = 0; k < expected.outputs.size(); ++k) {
    if (!expected.outputs[k].defined()) continue;
    merge(total, compare_tensors(actual.outputs[k].to(Device::cpu()), expected.outputs[k].to(Device::cpu()), atol,
                                 rtol, "output " + std::to_string(k + 1)));
  }
  for (size_t k = 0; k < expected.grads.size(); ++k) {
    const Tensor& e = expected.grads[k];
    const Tensor& a = actual.grads[k];
    if (!e.defined() && !a.defined()) continue;
    std::string what = "gradient of input " + std::to_string(k + 1);
    if (!e.defined() || !a.defined()) {
      GradcheckResult r;
      r.message = what + ": reached only one of the two runs";
      merge(total, r);
      continue;
    }
    merge(total, compare_tensors(a.to(Device::cpu()), e.to(Device::cpu()), atol, rtol, what));
  }
  return total;
}

// A contiguous-valued tensor's storage with `slack` extra elements after it, so
// a kernel that ignores strides reads wrong numbers instead of past the end.
Tensor with_room(const Tensor& values, int64_t room) {
  Tensor big = ops::rand({values.numel() + room}, -3, 3, values.dtype());
  Tensor part = big.narrow(0, 0, values.numel()).view(values.sizes());
  ops::copy_(part, values);
  return part;
}

// The input variants: each turns a contiguous value tensor into (base, view of
// base with the same values as `values` had... or, for expanded, constant
// along one dim); `view_of` rebuilds the view from a leaf made of base.
struct InputVariant {
  std::string check;
  // base for input values x, or undefined when the variant does not apply to x's shape
  std::function<Tensor(const Tensor&)> base;
  std::function<Tensor(const Tensor& base, const Shape& sizes)> view_of;
};

int64_t first_dim_over_one(const Shape& sizes) {
  for (size_t d = 0; d < sizes.size(); ++d)
    if (sizes[d] > 1) return static_cast<int64_t>(d);
  return -1;
}

std::vector<InputVariant> input_variants() {
  std::vector<InputVariant> v;
  v.push_back({"transposed-input",
               [](const Tensor& x) { return x.dim() >= 2 ? x.transpose(-1, -2).contiguous() : Tensor(); },
               [](const Tensor& b, const Shape&) { return b.transpose(-1, -2); }});
  v.push_back({"narrowed-input",
               [](const Tensor& x) {
                 if (x.dim() < 1) return Tensor();
                 Shape wide = x.sizes();
                 wide.back() += 3;
                 Tensor big = ops::rand(wide, -3, 3, x.dtype());
                 Tensor middle = big.narrow(-1, 1, x.size(-1));
                 ops::copy_(middle, x);
                 return big;
               },
               [](const Tensor& b, const Shape& sizes) { return b.narrow(-1, 1, sizes.back()); }});
  v.push_back({"expanded-input",
               [](const Tensor& x) {
                 int64_t d = first_dim_over_one(x.sizes());
                 if (d < 0) return Tensor();
                 return with_room(x.narrow(d, 0, 1).contiguous(), x.numel());
               },
               [](const Tensor& b, const Shape& sizes) { return b.expand(sizes); }});
  return v;
}

// ---- checks -----------------------------------------------------------------

struct LayerReport {
  std::vector<std::string> failed;  // names of failed checks
};

class LayerChecker {
 public:
  LayerChecker(const LayerSetup& s, DType dtype, Table& table, LayerReport& report)
      : s_(s), dtype_(dtype), table_(table), report_(report), differentiable_(s.def->backward != nullptr) {}

  void emit(Row row) {
    row.dtype = dtype_name(dtype_);
    if (row.device.empty()) row.device = "cpu";
    if (row.status == "FAIL") report_.failed.push_back(row.check);
    table_.print(s_.name, row);
  }

  // Runs `body`, turning an exception into a FAIL row for `check`.
  void guarded(const std::string& check, const std::function<void()>& body) {
    try {
      body();
    } catch (const std::exception& e) {
      emit({"", "", check, std::nullopt, "FAIL", std::string("error: ") + e.what()});
    }
  }

  void emit_result(const std::string& check, const GradcheckResult& r, const std::string& device = "cpu") {
    emit({device, "", check, r, r.passed ? "PASS" : "FAIL", r.passed ? "" : r.message});
  }

  void finite(const std::vector<Tensor>& values) {
    guarded("finite", [&] {
      NoGradGuard no_grad;
      std::vector<Tensor> outs = run_layer(s_, values);
      std::string bad;
      for (size_t k = 0; k < outs.size() && bad.empty(); ++k) {
        std::vector<double> v = outs[k].to_vector();
        for (size_t i = 0; i < v.size(); ++i)
          if (!std::isfinite(v[i])) {
            bad = "output " + std::to_string(k + 1) + " at index " +
                  index_str(outs[k].sizes(), static_cast<int64_t>(i)) + " is " + std::to_string(v[i]);
            break;
          }
      }
      emit({"", "", "finite", std::nullopt, bad.empty() ? "PASS" : "FAIL", bad});
    });
  }

  void gradient(const std::vector<Tensor>& values) {
    if (!differentiable_) {
      emit({"", "", "gradient", std::nullopt, "skip", "no backward kernel: the layer is not differentiable"});
      return;
    }
    guarded("gradient", [&] {
      std::vector<Tensor> leaves;
      for (const Tensor& v : values) {
        Tensor leaf = v.detach();
        if (is_floating(leaf.dtype())) leaf.set_requires_grad(true);
        leaves.push_back(leaf);
      }
      GradcheckResult r = gradcheck([this](const std::vector<Tensor>& in) { return run_layer(s_, in); }, leaves);
      emit_result("gradient", r);
    });
  }

  Pass contiguous_pass(const std::vector<Tensor>& values) {
    return run_pass(s_, values, differentiable_, [](size_t, const Tensor& t) { return t; },
                    [this](size_t k, const Tensor& out) { return grad_weights(k, out); });
  }

  void strided_inputs(const std::vector<Tensor>& values) {
    for (const InputVariant& variant : input_variants()) {
      guarded(variant.check, [&] {
        std::vector<Tensor> bases(values.size());
        bool any = false;
        for (size_t k = 0; k < values.size(); ++k) {
          if (is_floating(values[k].dtype())) {
            NoGradGuard no_grad;
            bases[k] = variant.base(values[k]);
          }
          any = any || bases[k].defined();
        }
        if (!any) {
          emit({"", "", variant.check, std::nullopt, "skip", "no input has a shape this view applies to"});
          return;
        }
        std::vector<Tensor> leaf_values(values.size());
        std::vector<Shape> sizes(values.size());
        for (size_t k = 0; k < values.size(); ++k) {
          leaf_values[k] = bases[k].defined() ? bases[k] : values[k];
          sizes[k] = values[k].sizes();
        }
        auto strided = [&](size_t k, const Tensor& leaf) { return bases[k].defined() ? variant.view_of(leaf, sizes[k]) : leaf; };
        // Reference: the same views made contiguous by the built-in copy before the layer sees them.
        auto copied = [&](size_t k, const Tensor& leaf) { return strided(k, leaf).contiguous(); };
        auto weights = [this](size_t k, const Tensor& out) { return grad_weights(k, out); };
        Pass expected = run_pass(s_, leaf_values, differentiable_, copied, weights);
        Pass actual = run_pass(s_, leaf_values, differentiable_, strided, weights);
        emit_result(variant.check, compare_passes(actual, expected, dtype_));
      });
    }
  }

  void strided_grads(const std::vector<Tensor>& values) {
    struct GradVariant {
      std::string check;
      std::function<Tensor(const Tensor& w)> make;  // non-contiguous tensor, or undefined
    };
    std::vector<GradVariant> variants = {
        {"transposed-grad",
         [](const Tensor& w) { return w.dim() >= 2 ? w.transpose(-1, -2).contiguous().transpose(-1, -2) : Tensor(); }},
        {"expanded-grad",
         [](const Tensor& w) {
           int64_t d = first_dim_over_one(w.sizes());
           return d < 0 ? Tensor() : with_room(w.narrow(d, 0, 1).contiguous(), w.numel()).expand(w.sizes());
         }},
    };
    for (const GradVariant& variant : variants) {
      if (!differentiable_) {
        emit({"", "", variant.check, std::nullopt, "skip", "no backward kernel"});
        continue;
      }
      guarded(variant.check, [&] {
        std::map<size_t, Tensor> strided_grads;
        bool any = false;
        {
          NoGradGuard no_grad;
          std::vector<Tensor> outs = run_layer(s_, values);
          for (size_t k = 0; k < outs.size(); ++k) {
            if (!outs[k].defined() || !is_floating(outs[k].dtype())) continue;
            Tensor g = variant.make(grad_weights(k, outs[k]));
            if (g.defined()) any = true;
            strided_grads[k] = g.defined() ? g : grad_weights(k, outs[k]);
          }
        }
        if (!any) {
          emit({"", "", variant.check, std::nullopt, "skip", "no output has a shape this view applies to"});
          return;
        }
        auto same = [](size_t, const Tensor& t) { return t; };
        Pass expected = run_pass(s_, values, true, same,
                                 [&](size_t k, const Tensor&) { return strided_grads.at(k).contiguous(); });
        Pass actual = run_pass(s_, values, true, same, [&](size_t k, const Tensor&) { return strided_grads.at(k); });
        emit_result(variant.check, compare_passes(actual, expected, dtype_));
      });
    }
  }

  void other_devices(const std::vector<Tensor>& values) {
    DeviceType type = DeviceType::CUDA;
    std::string device = device_type_name(type);
    if (find_layer(s_.name, static_cast<int32_t>(type)) == nullptr) return;  // a CPU-only layer: nothing to compare
    if (device_count(type) == 0) {
      emit({device, "", "vs-cpu", std::nullopt, "skip", device + ": not checked: no device (" + no_device_reason(type) + ")"});
      return;
    }
    Device target{type, 0};
    guarded("vs-cpu", [&] {
      Pass expected = contiguous_pass(values);
      std::vector<Tensor> moved;
      for (const Tensor& v : values) moved.push_back(v.to(target));
      Pass actual = run_pass(s_, moved, differentiable_, [](size_t, const Tensor& t) { return t; },
                             [this, target](size_t k, const Tensor& out) { return grad_weights(k, out).to(target); });
      // Different kernels: hold them to float32-like tolerances on either dtype.
      GradcheckResult total;
      total.passed = true;
      for (size_t k = 0; k < expected.outputs.size(); ++k)
        if (expected.outputs[k].defined())
          merge(total, compare_tensors(actual.outputs[k].to(Device::cpu()), expected.outputs[k], 1e-4, 1e-3,
                                       "output " + std::to_string(k + 1)));
      for (size_t k = 0; k < expected.grads.size(); ++k)
        if (expected.grads[k].defined() && actual.grads[k].defined())
          merge(total, compare_tensors(actual.grads[k].to(Device::cpu()), expected.grads[k], 1e-4, 1e-3,
                                       "gradient of input " + std::to_string(k + 1)));
      emit_result("vs-cpu", total, device);
    });
  }

 private:
  // Fixed grad_output values per output: deterministic in its index and shape.
  Tensor grad_weights(size_t k, const Tensor& out) {
    std::vector<double> w(static_cast<size_t>(out.numel()));
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.5 + std::fmod(0.618033988749895 * static_cast<double>(i + 7 * k + 1), 1.0);
    return Tensor::from_vector(w, out.sizes(), out.dtype()).to(out.device());
  }

  const LayerSetup& s_;
  DType dtype_;
  Table& table_;
  LayerReport& report_;
  bool differentiable_;
};

// Attributes, input shapes and parameters of one layer, or an error.
LayerSetup setup_layer(const std::string& name, const CheckOptions& o) {
  LayerSetup s;
  s.name = name;
  s.def = &ops::require_layer(name, DeviceType::CPU);
  const trt_layer_def& def = *s.def;
  ops::LayerAttrArgs args;
  if (def.n_attrs > 0) {
    for (int32_t i = 0; i < def.n_attrs; ++i) {
      const trt_layer_attr& a = def.attrs[i];
      auto given = o.named_attrs.find(a.name);
      if (given != o.named_attrs.end()) {
        args.named[a.name] = given->second;
      } else if (a.required) {
        args.named[a.name] = a.default_value;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", a.default_value);
        s.notes.push_back(std::string("required attribute '") + a.name + "' not given (--attr " + a.name +
                          "=VALUE): using its default_value " + buf);
      }
    }
  } else {
    args.positional = o.positional_attrs;
  }
  s.attrs = ops::resolve_layer_attrs(def, args);

  int32_t n_params = std::max(def.n_params, 0);
  int32_t n_data = def.n_inputs < 0 ? 1 : def.n_inputs - n_params;
  TRT_CHECK(n_data >= 0, "layer '", name, "': n_inputs ", def.n_inputs, " is less than n_params ", n_params);
  trt_layer_attrs view = s.attrs.view();
  for (int32_t i = 0; i < n_data; ++i) {
    if (def.example_input == nullptr) {
      s.data_shapes.push_back({4, 6});
      continue;
    }
    int64_t sizes[TRT_MAX_DIMS] = {0};
    int32_t ndim = 0;
    char error[512] = {0};
    trt_status status = def.example_input(i, &view, sizes, &ndim, error, sizeof error);
    TRT_CHECK(status == TRT_OK, "layer '", name, "': example_input(", i, ") failed: ", error[0] ? error : "no message");
    TRT_CHECK(ndim >= 0 && ndim <= TRT_MAX_DIMS, "layer '", name, "': example_input(", i, ") gave ", ndim, " dims");
    s.data_shapes.emplace_back(sizes, sizes + ndim);
  }
  if (def.example_input == nullptr) s.notes.push_back("no example_input(): every input is (4, 6)");
  if (n_params > 0) s.parameters = ops::layer_parameters(name, s.attrs);
  return s;
}

// Picks float64 when the layer's forward runs it, else float32.
std::optional<DType> pick_dtype(const LayerSetup& s, const CheckOptions& o, std::string& why_not, std::vector<std::string>& notes) {
  std::vector<DType> order = o.dtype ? std::vector<DType>{*o.dtype} : std::vector<DType>{DType::Float64, DType::Float32};
  for (DType d : order) {
    try {
      NoGradGuard no_grad;
      run_layer(s, example_values(s, d));
      return d;
    } catch (const std::exception& e) {
      why_not = std::string(dtype_name(d)) + " forward failed: " + e.what();
      if (d == DType::Float64 && order.size() > 1) notes.push_back(why_not + "; checking float32 with looser tolerances");
    }
  }
  return std::nullopt;
}

std::vector<std::string> layers_of(const std::string& path, std::string& plugin_name) {
  std::error_code ec;
  std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
  for (const PluginRecord& p : loaded_plugins()) {
    if (p.path != canonical && p.path != path) continue;
    plugin_name = p.name;
    std::vector<std::string> names;
    for (const auto* list : {&p.layers_cpu, &p.layers_cuda})
      for (const std::string& l : *list)
        if (std::find(names.begin(), names.end(), l) == names.end()) names.push_back(l);
    return names;
  }
  return {};
}

}  // namespace

int check_plugin_command(const std::vector<std::string>& args) {
  CheckOptions o = parse_options(args);
  if (o.help) {
    print_check_usage();
    return 0;
  }
  PreparedRun run = prepare_run(o.run);
  if (!load_plugin_file(o.path)) {
    std::string reason = "refused";
    for (const PluginRefusal& r : refused_plugins())
      if (r.path == o.path) reason = r.reason;
    std::printf("check-plugin: %s was refused: %s\n", o.path.c_str(), reason.c_str());
    return 1;
  }
  std::string plugin;
  std::vector<std::string> layers = layers_of(o.path, plugin);
  if (o.layer) {
    if (std::find(layers.begin(), layers.end(), *o.layer) == layers.end()) {
      std::string known;
      for (const std::string& l : layers) known += (known.empty() ? "" : ", ") + l;
      throw UsageError("check-plugin: plugin " + plugin + " has no layer '" + *o.layer + "' (its layers: " +
                       (known.empty() ? "none" : known) + ")");
    }
    layers = {*o.layer};
  }
  if (layers.empty()) {
    std::printf("check-plugin: plugin %s registers no layers; nothing to check\n", plugin.c_str());
    return 0;
  }
  // An --attr no checked layer declares is a typo, not something to ignore.
  for (const auto& [attr, value] : o.named_attrs) {
    bool known = false;
    for (const std::string& l : layers) {
      const trt_layer_def* def = find_layer(l, TRT_DEVICE_CPU);
      for (int32_t i = 0; def && i < def->n_attrs && !known; ++i) known = attr == def->attrs[i].name;
    }
    if (!known) throw UsageError("check-plugin: --attr " + attr + ": no layer checked here declares an attribute '" + attr + "'");
  }

  std::printf("check-plugin: %s (%s), %zu layer%s\n", plugin.c_str(), o.path.c_str(), layers.size(),
              layers.size() == 1 ? "" : "s");
  size_t width = 0;
  for (const std::string& l : layers) width = std::max(width, l.size());
  Table table(width);
  std::vector<std::pair<std::string, LayerReport>> reports;
  for (const std::string& name : layers) {
    manual_seed(run.settings.seed.value_or(0));
    LayerReport report;
    auto fail_row = [&](const std::string& check, const std::string& detail) {
      report.failed.push_back(check);
      table.print(name, Row{"cpu", "-", check, std::nullopt, "FAIL", detail});
    };
    LayerSetup setup;
    try {
      setup = setup_layer(name, o);
    } catch (const std::exception& e) {
      fail_row("setup", std::string("error: ") + e.what());
      reports.emplace_back(name, report);
      continue;
    }
    std::string why_not;
    std::optional<DType> dtype = pick_dtype(setup, o, why_not, setup.notes);
    for (const std::string& note : setup.notes) table.note(name, note);
    if (!dtype) {
      fail_row("forward", why_not);
      reports.emplace_back(name, report);
      continue;
    }
    manual_seed(run.settings.seed.value_or(0));
    std::vector<Tensor> values = example_values(setup, *dtype);
    LayerChecker checker(setup, *dtype, table, report);
    checker.finite(values);
    checker.gradient(values);
    checker.strided_inputs(values);
    checker.strided_grads(values);
    checker.other_devices(values);
    reports.emplace_back(name, report);
  }

  std::string failed;
  for (const auto& [name, report] : reports) {
    if (report.failed.empty()) continue;
    std::string checks;
    for (const std::string& c : report.failed) checks += (checks.empty() ? "" : ", ") + c;
    failed += (failed.empty() ? "" : ", ") + name + " (" + checks + ")";
  }
  if (!failed.empty()) {
    std::printf("check-plugin: FAILED: %s\n", failed.c_str());
    return 1;
  }
  std::printf("check-plugin: all %zu layer%s of %s passed\n", layers.size(), layers.size() == 1 ? "" : "s", plugin.c_str());
  return 0;
}

}  // namespace trainrt::cli
