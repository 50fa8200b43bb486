// Plugin layers: attributes -> infer -> allocate -> forward kernel -> a backward
// node that calls def.backward with [inputs..., outputs..., grad_outputs...] and
// pre-zeroed gradient buffers; and a layer's parameters from def.param.
// Several differentiable outputs are carved out of one flat buffer, so the one
// autograd node receives all their gradients at once (the engine's nodes have
// one output); non-differentiable outputs are separate tensors.
// Not here: registration (plugin/loader.cpp), Lua (lua/bind_layer.cpp).
#include "trainrt/ops/layer.h"

#include <cmath>

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/plugins.h"

namespace trainrt::ops {
namespace {

std::string quoted(const std::string& name) { return "layer '" + name + "'"; }

std::string refusal_hint() {
  std::vector<PluginRefusal> refused = refused_plugins();
  if (refused.empty()) return " (run `trainrt plugins` to see the layers that are loaded)";
  std::string hint = "; " + std::to_string(refused.size()) + " plugin" + (refused.size() == 1 ? " was" : "s were") +
                     " refused and may have provided it:";
  for (const PluginRefusal& r : refused) hint += " " + r.path + ": " + r.reason + ";";
  hint.pop_back();
  return hint + " (see `trainrt plugins`)";
}

// Launches a layer kernel (layers are not in the op registry) on the device queue.
void call_layer_kernel(const std::string& what, trt_kernel_fn fn, const std::vector<Tensor>& inputs,
                       const std::vector<Tensor>& outputs, const LayerAttrValues& attrs) {
  launch_kernel(what, fn, inputs, outputs, attrs.ints, attrs.floats);
}

bool is_differentiable_output(const trt_layer_def& def, int32_t k) {
  return k >= 32 || ((def.nondifferentiable_outputs >> k) & 1u) == 0;
}

// Output shapes and dtypes from whichever shape rule the layer has.
std::vector<trt_tensor_view> infer_outputs(const std::string& name, const trt_layer_def& def,
                                           const std::vector<trt_tensor_view>& views, const LayerAttrValues& attrs) {
  int32_t n = layer_output_count(def);
  std::vector<trt_tensor_view> outs(n);
  for (trt_tensor_view& o : outs) {
    o = trt_tensor_view{};
    o.struct_size = sizeof(o);
    o.dtype = views[0].dtype;
    o.device_type = views[0].device_type;
    o.device_index = views[0].device_index;
  }
  char error[512] = {0};
  trt_status status;
  if (def.infer_outputs) {
    trt_layer_attrs a = attrs.view();
    status = def.infer_outputs(views.data(), static_cast<int32_t>(views.size()), &a, outs.data(), n, error,
                               sizeof(error));
  } else {
    TRT_CHECK(n == 1, quoted(name), ": declares ", n, " outputs but has only the one-output infer");
    status = def.infer(views.data(), static_cast<int32_t>(views.size()), attrs.floats.data(),
                       static_cast<int32_t>(attrs.floats.size()), outs[0].sizes, &outs[0].ndim, &outs[0].dtype, error,
                       sizeof(error));
  }
  TRT_CHECK(status == TRT_OK, quoted(name), ": ", error[0] ? error : "shape inference failed");
  for (int32_t k = 0; k < n; ++k) {
    TRT_CHECK(outs[k].ndim >= 0 && outs[k].ndim <= TRT_MAX_DIMS, quoted(name), ": infer gave output ", k, " ",
              outs[k].ndim, " dims");
    TRT_CHECK(outs[k].dtype >= TRT_FLOAT32 && outs[k].dtype <= TRT_UINT8, quoted(name), ": infer gave output ", k,
              " unknown dtype ", outs[k].dtype);
    for (int d = 0; d < outs[k].ndim; ++d)
      TRT_CHECK(outs[k].sizes[d] >= 0, quoted(name), ": infer gave output ", k, " a negative size");
  }
  return outs;
}

Shape shape_of(const trt_tensor_view& v) { return Shape(v.sizes, v.sizes + v.ndim); }

}  // namespace

trt_layer_attrs LayerAttrValues::view() const {
  trt_layer_attrs a{};
  a.floats = floats.data();
  a.n_floats = static_cast<int32_t>(floats.size());
  a.ints = ints.data();
  a.n_ints = static_cast<int32_t>(ints.size());
  return a;
}

const trt_layer_def& require_layer(const std::string& name, DeviceType device) {
  const trt_layer_def* def = find_layer(name, static_cast<int32_t>(device));
  TRT_CHECK(def != nullptr, quoted(name), ": no plugin registered it for ", device_type_name(device), refusal_hint());
  return *def;
}

int32_t layer_output_count(const trt_layer_def& def) { return def.n_outputs > 0 ? def.n_outputs : 1; }

LayerAttrValues resolve_layer_attrs(const trt_layer_def& def, const LayerAttrArgs& args) {
  const std::string name = def.name;
  LayerAttrValues values;
  if (def.n_attrs <= 0) {
    TRT_CHECK(args.named.empty(), quoted(name), ": takes no named attributes (its plugin declares none), got '",
              args.named.begin()->first, "'; pass numbers in order instead");
    values.floats = args.positional;
    return values;
  }
  std::string known;
  for (int32_t i = 0; i < def.n_attrs; ++i) known += std::string(known.empty() ? "" : ", ") + def.attrs[i].name;
  TRT_CHECK(args.positional.empty() || args.named.empty(), quoted(name),
            ": give attributes either in order or by name, not both");
  TRT_CHECK(static_cast<int32_t>(args.positional.size()) <= def.n_attrs, quoted(name), ": takes ", def.n_attrs,
            " attributes (", known, "), got ", args.positional.size());
  for (const auto& [key, value] : args.named) {
    bool found = false;
    for (int32_t i = 0; i < def.n_attrs && !found; ++i) found = key == def.attrs[i].name;
    TRT_CHECK(found, quoted(name), ": unknown attribute '", key, "' (known: ", known, ")");
  }
  for (int32_t i = 0; i < def.n_attrs; ++i) {
    const trt_layer_attr& attr = def.attrs[i];
    double value = attr.default_value;
    bool given = false;
    if (static_cast<size_t>(i) < args.positional.size()) {
      value = args.positional[i];
      given = true;
    } else if (auto it = args.named.find(attr.name); it != args.named.end()) {
      value = it->second;
      given = true;
    }
    TRT_CHECK(given || !attr.required, quoted(name), ": attribute '", attr.name, "' is required");
    if (attr.kind == TRT_ATTR_INT) {
      TRT_CHECK(std::isfinite(value) && value == std::floor(value) && std::abs(value) < 9.2e18, quoted(name),
                ": attribute '", attr.name, "' must be an integer, got ", value);
      values.ints.push_back(static_cast<int64_t>(value));
    } else {
      values.floats.push_back(value);
    }
  }
  return values;
}

std::vector<Tensor> layer_outputs(const std::string& name, const std::vector<Tensor>& inputs,
                                  const LayerAttrValues& attrs) {
  TRT_CHECK(!inputs.empty(), quoted(name), ": needs at least one input tensor");
  Device device = inputs[0].device();
  const trt_layer_def& def = require_layer(name, device.type);
  TRT_CHECK(def.n_inputs < 0 || def.n_inputs == static_cast<int32_t>(inputs.size()), quoted(name), ": expects ",
            def.n_inputs, " inputs", def.n_params > 0 ? " (parameters included)" : "", ", got ", inputs.size());
  const bool strided = (def.flags & TRT_LAYER_STRIDED_INPUTS) != 0;

  // What the kernels see: detached (no graph), contiguous unless the layer reads strides.
  std::vector<Tensor> kernel_inputs;
  std::vector<trt_tensor_view> views;
  for (const Tensor& t : inputs) {
    TRT_CHECK(t.device() == device, quoted(name), ": inputs on different devices ", device.str(), " and ",
              t.device().str());
    Tensor d = t.detach();
    kernel_inputs.push_back(strided ? d : d.contiguous());
    views.push_back(to_view(kernel_inputs.back()));
  }
  std::vector<trt_tensor_view> shapes = infer_outputs(name, def, views, attrs);
  const int32_t n_out = static_cast<int32_t>(shapes.size());

  // Differentiable outputs share one flat buffer (same dtype required); the rest stand alone.
  std::vector<int32_t> diff;
  int64_t packed_numel = 0;
  for (int32_t k = 0; k < n_out; ++k)
    if (is_differentiable_output(def, k)) {
      TRT_CHECK(shapes[k].dtype == shapes[diff.empty() ? k : diff[0]].dtype, quoted(name),
                ": differentiable outputs must share one dtype");
      diff.push_back(k);
      packed_numel += numel_of(shape_of(shapes[k]));
    }
  Tensor packed;
  if (diff.size() > 1) packed = Tensor::empty({packed_numel}, static_cast<DType>(shapes[diff[0]].dtype), device);
  std::vector<Tensor> outputs(n_out);
  int64_t offset = 0;
  for (int32_t k = 0; k < n_out; ++k) {
    Shape shape = shape_of(shapes[k]);
    if (packed.defined() && is_differentiable_output(def, k)) {
      int64_t numel = numel_of(shape);
      outputs[k] = packed.narrow(0, offset, numel).view(shape);
      offset += numel;
    } else {
      outputs[k] = Tensor::empty(shape, static_cast<DType>(shapes[k].dtype), device);
    }
  }
  call_layer_kernel(quoted(name) + " forward", def.forward, kernel_inputs, outputs, attrs);
  if (!needs_grad(inputs) || diff.empty()) return outputs;

  // One node on the differentiable result: `packed`, or the single differentiable output.
  trt_kernel_fn backward = def.backward;
  std::vector<Tensor> saved_outputs;
  for (const Tensor& o : outputs) saved_outputs.push_back(o.detach());  // no grad_fn: keeps the graph acyclic
  Tensor root = packed.defined() ? packed : outputs[diff[0]];
  record(def.name, inputs, root, [=](const Tensor& grad_root) {
    TRT_CHECK(backward != nullptr, quoted(name), " has no backward kernel; its plugin registered it as not differentiable");
    std::vector<Tensor> args = kernel_inputs;
    for (const Tensor& o : saved_outputs) args.push_back(o);
    int64_t at = 0;
    for (int32_t k = 0; k < n_out; ++k) {
      const Tensor& o = saved_outputs[k];
      Tensor grad;  // as autograd delivered it (e.g. transposed, or expanded from a sum)
      if (!is_differentiable_output(def, k)) {
        grad = zeros(o.sizes(), o.dtype(), o.device());
      } else if (!packed.defined()) {
        grad = grad_root;
      } else {
        grad = grad_root.narrow(0, at, o.numel()).reshape(o.sizes());
        at += o.numel();
      }
      args.push_back(strided ? grad : grad.contiguous());
    }
    std::vector<Tensor> grads;
    for (const Tensor& t : kernel_inputs) grads.push_back(zeros(t.sizes(), t.dtype(), t.device()));
    call_layer_kernel(quoted(name) + " backward", backward, args, grads, attrs);
    return grads;
  });
  if (packed.defined()) {  // re-carve the user's outputs from the recorded buffer, so gradients reach it
    offset = 0;
    for (int32_t k : diff) {
      int64_t numel = outputs[k].numel();
      outputs[k] = root.narrow(0, offset, numel).view(outputs[k].sizes());
      offset += numel;
    }
  }
  return outputs;
}

Tensor layer(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<double>& attrs) {
  TRT_CHECK(!inputs.empty(), quoted(name), ": needs at least one input tensor");
  const trt_layer_def& def = require_layer(name, inputs[0].device().type);
  LayerAttrArgs args;
  args.positional = attrs;
  return layer_outputs(name, inputs, resolve_layer_attrs(def, args))[0];
}

std::vector<std::pair<std::string, Tensor>> layer_parameters(const std::string& name, const LayerAttrValues& attrs,
                                                             Device device) {
  const trt_layer_def& def = require_layer(name, device.type);
  std::vector<std::pair<std::string, Tensor>> params;
  TRT_CHECK(def.n_params <= 0 || def.param != nullptr, quoted(name), ": declares ", def.n_params,
            " parameters but no param() to describe them");
  for (int32_t i = 0; i < def.n_params; ++i) {
    trt_layer_param p{};
    p.struct_size = sizeof(p);
    p.dtype = TRT_FLOAT32;
    char error[512] = {0};
    trt_layer_attrs a = attrs.view();
    trt_status status = def.param(i, &a, &p, error, sizeof(error));
    TRT_CHECK(status == TRT_OK, quoted(name), ": parameter ", i, ": ", error[0] ? error : "param() failed");
    TRT_CHECK(p.name && p.name[0], quoted(name), ": parameter ", i, " has no name");
    TRT_CHECK(p.ndim >= 0 && p.ndim <= TRT_MAX_DIMS, quoted(name), ": parameter '", p.name, "' has ", p.ndim, " dims");
    TRT_CHECK(p.dtype == TRT_FLOAT32 || p.dtype == TRT_FLOAT64, quoted(name), ": parameter '", p.name,
              "' must be float32 or float64");
    Shape shape(p.sizes, p.sizes + p.ndim);
    DType dtype = static_cast<DType>(p.dtype);
    Tensor t;
    switch (p.init) {
      case TRT_INIT_ZEROS: t = zeros(shape, dtype, device); break;
      case TRT_INIT_ONES: t = ones(shape, dtype, device); break;
      case TRT_INIT_UNIFORM: t = rand(shape, -p.scale, p.scale, dtype, device); break;
      case TRT_INIT_NORMAL: t = randn(shape, 0, p.scale, dtype, device); break;
      default: fail(quoted(name) + ": parameter '" + p.name + "' has unknown init " + std::to_string(p.init));
    }
    t.set_requires_grad(true);
    params.emplace_back(p.name, t);
  }
  return params;
}

}  // namespace trainrt::ops
