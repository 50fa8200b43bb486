// ops-cpu: the reference CPU kernels of every built-in op (docs/ops.md).
// GEMM and convolution go through OpenBLAS; element-wise math comes from
// trainrt/kernel_math.h so the CUDA plugin computes the same formulas.
#include <cblas.h>

#include "channel_blocked.h"
#include "host_memory.h"
#include "kernels.h"

namespace trt_cpu {

bool add_kernel(const trt_host_api* host, const char* op, trt_kernel_fn fn) {
  trt_kernel_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.op = op;
  def.device_type = TRT_DEVICE_CPU;
  def.fn = fn;
  return host->register_kernel(host->host, &def) == TRT_OK;
}

}  // namespace trt_cpu

namespace {

trt_status init(const trt_host_api* host, trt_plugin_info* info, char*, size_t) {
  info->name = "ops-cpu";
  info->version = "0.1.0";
  info->description = "CPU kernels: OpenBLAS GEMM, im2col convolution, pooling, element-wise, losses, optimizers";
  using namespace trt_cpu;
  set_host_memory(host);  // scratchpads and temporary buffers from trainrt's allocator
  bool ok = register_elementwise(host) && register_random(host) && register_reduce(host) && register_linalg(host) &&
            register_conv_pool(host) && register_loss(host) && register_optim(host) &&
            register_channel_blocked(host);
  return ok ? TRT_OK : TRT_ERR_INTERNAL;
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
