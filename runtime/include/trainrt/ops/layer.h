// Running a layer that a plugin registered whole (trt_layer_def): shape rule,
// forward kernel and optional backward kernel, wired into autograd by the host.
#pragma once
#include <string>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::ops {

// Finds layer `name` for the inputs' device, infers the output, runs forward
// and records backward (def->backward; a layer without one raises when
// backward reaches it). Errors name the layer and the plugin's message.
Tensor layer(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<double>& attrs = {});

}  // namespace trainrt::ops
