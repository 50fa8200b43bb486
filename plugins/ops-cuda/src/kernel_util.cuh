// Helpers every CUDA kernel uses: the twin of ops-cpu's kernel_util.h.
// Argument access, one-line errors, dtype dispatch, the kernel's stream, and
// StridedOffsets, which turns a logical (row-major) element index into each
// operand's element offset, so one grid-stride loop serves contiguous,
// transposed and broadcast (stride 0) operands alike.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "trainrt/kernel_math.h"
#include "trainrt/plugin_abi.h"
#include "trt_plugin_util/kernel_args.h"

namespace trt_cuda {

// Shared with ops-cpu (plugins/common/include/trt_plugin_util/kernel_args.h).
using trt_plugin_util::data;
using trt_plugin_util::fail;
using trt_plugin_util::is_contiguous;
using trt_plugin_util::numel;
#define TRT_CUDA_DISPATCH_FLOAT TRT_KERNEL_DISPATCH_FLOAT
#define TRT_CUDA_DISPATCH_ALL TRT_KERNEL_DISPATCH_ALL

// After a launch: TRT_OK, or the CUDA error as "<op>: <cuda message>".
inline trt_status check_launch(const trt_kernel_args* a, const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return TRT_OK;
  return fail(a, e == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL, "%s: CUDA error: %s", op,
              cudaGetErrorString(e));
}

// The device queue's stream (the host passes it for every CUDA kernel).
inline cudaStream_t stream_of(const trt_kernel_args* a) { return static_cast<cudaStream_t>(a->stream); }

// K operands of one logical shape (strides may differ; 0 = broadcast), passed
// to a kernel by value. offset(i, k) is operand k's element offset of logical
// element i (row-major over `sizes`).
template <int K> struct StridedOffsets {
  int nd = 0;
  int64_t sizes[TRT_MAX_DIMS];
  int64_t strides[K][TRT_MAX_DIMS];

  __host__ __device__ int64_t offset(int64_t i, int k) const {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      int64_t idx = i % sizes[d];
      i /= sizes[d];
      off += idx * strides[k][d];
    }
    return off;
  }
};

// Builds StridedOffsets for operands that share `shape`'s sizes.
template <int K>
StridedOffsets<K> strided_offsets(const trt_tensor_view& shape, const trt_tensor_view* const (&ops)[K]) {
  StridedOffsets<K> s;
  s.nd = shape.ndim;
  for (int d = 0; d < shape.ndim; ++d) {
    s.sizes[d] = shape.sizes[d];
    for (int k = 0; k < K; ++k) s.strides[k][d] = ops[k]->strides[d];
  }
  return s;
}

// Grid for a grid-stride loop over n elements: 256 threads per block, at most
// 65535 * 8 blocks (the loop covers the rest).
constexpr int kBlock = 256;
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kBlock - 1) / kBlock;
  if (b < 1) b = 1;
  if (b > 65535 * 8) b = 65535 * 8;
  return static_cast<unsigned>(b);
}

#define TRT_CUDA_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)

}  // namespace trt_cuda
