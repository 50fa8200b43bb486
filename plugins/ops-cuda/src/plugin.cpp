// ops-cuda: registers the CUDA device and the CUDA kernel of every built-in op.
// Nothing here touches the GPU: the CUDA runtime starts on the first device
// call, so loading the plugin on a machine without a driver costs nothing and
// `--device cuda` then fails with the reason (see device.cpp).
#include <cstdio>

#include "kernels.h"

namespace trt_cuda {

bool add_kernel(const trt_host_api* host, const char* op, trt_kernel_fn fn) {
  trt_kernel_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.op = op;
  def.device_type = TRT_DEVICE_CUDA;
  def.fn = fn;
  return host->register_kernel(host->host, &def) == TRT_OK;
}

}  // namespace trt_cuda

namespace {

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t error_capacity) {
  info->name = "ops-cuda";
  info->version = "0.1.0";
  info->description = "CUDA device and kernels: cuBLAS GEMM, cuDNN convolution, own element-wise/reduction kernels";
  if (!TRT_HOST_HAS(host, register_device)) {
    std::snprintf(error, error_capacity, "this trainrt is too old for ops-cuda (needs plugin ABI 1.2 device support)");
    return TRT_ERR_ABI;
  }
  using namespace trt_cuda;
  bool ok = register_device(host) && register_elementwise(host) && register_random(host) && register_reduce(host) &&
            register_loss(host) && register_optim(host) && register_linalg(host) && register_conv(host) &&
            register_pool(host);
  return ok ? TRT_OK : TRT_ERR_INTERNAL;
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
