// layer-examples: the plugin's entry point. It registers every layer for the
// CPU, and for CUDA too when the .cu files were compiled.
#include <trainrt/plugin_sdk.h>

#include "layers.h"

namespace {

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t error_capacity) {
  info->name = "layer-examples";
  info->version = "1.1.0";
  info->description = "Swish and LayerNorm, the layers of the plugin SDK tutorial";
  trt_device_type devices[] = {TRT_DEVICE_CPU, TRT_DEVICE_CUDA};
  for (trt_device_type device : devices) {
    if (device == TRT_DEVICE_CUDA && !TRT_PLUGIN_WITH_CUDA) continue;
    for (trt_layer_def def : {swish_layer(device), layernorm_layer(device)}) {
      trt_status status = host->register_layer(host->host, &def);
      if (status != TRT_OK)
        return trt_sdk::fail(error, error_capacity, status, "layer-examples: the host refused layer '%s' for %s",
                             def.name, device == TRT_DEVICE_CPU ? "cpu" : "cuda");
    }
  }
  return TRT_OK;
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
