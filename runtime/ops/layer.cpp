// Plugin layers: infer -> allocate -> forward kernel -> record backward that
// calls def->backward with [inputs..., output, grad_output] and pre-zeroed
// gradient buffers. Not here: registration (plugin/loader.cpp), Lua (lua/bind_layer.cpp).
#include "trainrt/ops/layer.h"

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/plugins.h"

namespace trainrt::ops {
namespace {

// Calls a layer kernel directly (layers are not in the op registry).
void call_layer_kernel(const std::string& what, trt_kernel_fn fn, const std::vector<Tensor>& inputs,
                       const std::vector<Tensor>& outputs, const std::vector<double>& attrs) {
  std::vector<trt_tensor_view> in_views, out_views;
  for (const Tensor& t : inputs) in_views.push_back(to_view(t));
  for (const Tensor& t : outputs) out_views.push_back(to_view(t));
  const std::vector<int64_t> no_int_attrs;
  char error[512] = {0};
  trt_kernel_args args = kernel_args(in_views, out_views, no_int_attrs, attrs, error, sizeof(error));
  trt_status status = fn(&args);
  TRT_CHECK(status == TRT_OK, what, ": ", error[0] ? error : "kernel failed with status ", error[0] ? "" : std::to_string(status));
}

}  // namespace

Tensor layer(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<double>& attrs) {
  TRT_CHECK(!inputs.empty(), "layer '", name, "': needs at least one input tensor");
  Device device = inputs[0].device();
  const trt_layer_def* def = find_layer(name, static_cast<int32_t>(device.type));
  TRT_CHECK(def != nullptr, "layer '", name, "': no plugin registered it for ", device_type_name(device.type),
            " (run `trainrt plugins` to see the layers that are loaded)");
  TRT_CHECK(def->n_inputs < 0 || def->n_inputs == static_cast<int32_t>(inputs.size()), "layer '", name, "': expects ",
            def->n_inputs, " inputs, got ", inputs.size());

  std::vector<Tensor> detached;
  std::vector<trt_tensor_view> views;
  for (const Tensor& t : inputs) {
    TRT_CHECK(t.device() == device, "layer '", name, "': inputs on different devices ", device.str(), " and ",
              t.device().str());
    detached.push_back(t.detach());
    views.push_back(to_view(t));
  }

  int64_t out_sizes[TRT_MAX_DIMS] = {0};
  int32_t out_ndim = 0, out_dtype = views[0].dtype;
  char error[512] = {0};
  trt_status status = def->infer(views.data(), static_cast<int32_t>(views.size()), attrs.data(),
                                 static_cast<int32_t>(attrs.size()), out_sizes, &out_ndim, &out_dtype, error,
                                 sizeof(error));
  TRT_CHECK(status == TRT_OK, "layer '", name, "': ", error[0] ? error : "shape inference failed");
  TRT_CHECK(out_ndim >= 0 && out_ndim <= TRT_MAX_DIMS, "layer '", name, "': infer returned ", out_ndim, " dims");

  Tensor out = Tensor::empty(Shape(out_sizes, out_sizes + out_ndim), static_cast<DType>(out_dtype), device);
  call_layer_kernel("layer '" + name + "' forward", def->forward, detached, {out}, attrs);

  if (needs_grad(inputs)) {
    trt_kernel_fn backward = def->backward;
    Tensor saved_out = out.detach();  // no grad_fn: keeps the graph acyclic
    record(def->name, inputs, out, [=](const Tensor& grad_output) {
      TRT_CHECK(backward != nullptr, "layer '", name,
                "' has no backward kernel; its plugin registered it as not differentiable");
      std::vector<Tensor> kernel_inputs = detached;
      kernel_inputs.push_back(saved_out);
      kernel_inputs.push_back(grad_output);
      std::vector<Tensor> grads;
      for (const Tensor& t : detached) grads.push_back(zeros(t.sizes(), t.dtype(), t.device()));
      call_layer_kernel("layer '" + name + "' backward", backward, kernel_inputs, grads, attrs);
      return grads;
    });
  }
  return out;
}

}  // namespace trainrt::ops
