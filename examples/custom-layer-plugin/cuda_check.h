// The CUDA side's one error rule: a failed launch becomes a status and a
// one-line message naming the layer, the call and CUDA's reason.
#pragma once
#include <cuda_runtime.h>

#include <trainrt/plugin_sdk.h>

inline trt_status cuda_status(const trt_kernel_args* a, const char* where, cudaError_t e) {
  if (e == cudaSuccess) return TRT_OK;
  return trt_sdk::fail(a, e == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL, "%s: %s (%s)",
                       where, cudaGetErrorString(e), cudaGetErrorName(e));
}

// Grid size for n elements, capped (kernels loop with a grid stride).
inline unsigned grid_for(int64_t n, unsigned block) {
  int64_t g = (n + block - 1) / block;
  return unsigned(g < 4096 ? (g > 0 ? g : 1) : 4096);
}
