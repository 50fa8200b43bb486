// Running a layer that a plugin registered whole (trt_layer_def): attribute
// resolution, shape rule, forward kernel and optional backward kernel, wired
// into autograd by the host, and the creation of a layer's parameters.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "trainrt/plugin_abi.h"
#include "trainrt/tensor.h"

namespace trainrt::ops {

// Attribute values in the layout kernels receive: the declared float
// attributes in order, then the declared integer ones in order.
struct LayerAttrValues {
  std::vector<double> floats;
  std::vector<int64_t> ints;
  trt_layer_attrs view() const;
};

// What the script gave: named values (for a layer that declares attributes)
// or positional numbers (a layer that declares none: they become floats).
struct LayerAttrArgs {
  std::map<std::string, double> named;
  std::vector<double> positional;
};

// Looks up `name` for `device`; an error names the layer and, when plugins
// were refused, each refusal and its reason.
const trt_layer_def& require_layer(const std::string& name, DeviceType device);

// Applies defaults, checks names/kinds/required ones. Errors name the layer
// and the attribute ("layer 'layernorm': unknown attribute 'epsilon' (known: eps)").
LayerAttrValues resolve_layer_attrs(const trt_layer_def& def, const LayerAttrArgs& args);

int32_t layer_output_count(const trt_layer_def& def);

// Runs the layer: every output, in order. Inputs are made contiguous unless
// the layer declares TRT_LAYER_STRIDED_INPUTS; so are the gradients its
// backward kernel gets. Outputs marked non-differentiable never require grad.
std::vector<Tensor> layer_outputs(const std::string& name, const std::vector<Tensor>& inputs,
                                  const LayerAttrValues& attrs);

// One-output form with positional float attributes (the ABI 1.0 call).
Tensor layer(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<double>& attrs = {});

// The layer's learnable parameters for these attributes, created on `device`,
// initialised as param() says, each requiring grad: (name, tensor) in order.
std::vector<std::pair<std::string, Tensor>> layer_parameters(const std::string& name, const LayerAttrValues& attrs,
                                                             Device device = Device::cpu());

}  // namespace trainrt::ops
