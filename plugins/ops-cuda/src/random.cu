// Counter-based random fills on the GPU: element i (row-major logical order)
// of a draw uses counter offset + i, exactly as ops-cpu/src/random.cpp, so one
// seed gives the same tensor on both devices. The affine step is rounded like
// the CPU's (__dmul_rn/__dadd_rn: no fused multiply-add).
#include <cstdint>

#include "kernel_util.cuh"
#include "kernels.h"
#include "reduce_util.cuh"

namespace trt_cuda {
namespace {

// t: (shape), any strides. t[i] = low + (high - low) * uniform01(seed, offset + i)
template <typename T>
__global__ void uniform_values(StridedOffsets<1> s, int64_t n, T* t, uint64_t seed, uint64_t offset, double low,
                               double range) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    double u = trainrt::math::uniform01(seed, offset + static_cast<uint64_t>(i));
    t[s.offset(i, 0)] = static_cast<T>(__dadd_rn(low, __dmul_rn(range, u)));
  }
}

// t: (shape), any strides. t[i] = mean + std * normal01(seed, offset + i) (counters 2(offset+i), 2(offset+i)+1)
template <typename T>
__global__ void normal_values(StridedOffsets<1> s, int64_t n, T* t, uint64_t seed, uint64_t offset, double mean,
                              double std) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    double z = trainrt::math::normal01(seed, offset + static_cast<uint64_t>(i));
    t[s.offset(i, 0)] = static_cast<T>(__dadd_rn(mean, __dmul_rn(std, z)));
  }
}

// uniform: outputs [t], int_attrs [seed, offset], float_attrs [low, high]
trt_status uniform_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  int64_t n = numel(t);
  if (n == 0) return TRT_OK;
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  double low = a->float_attrs[0], high = a->float_attrs[1];
  const trt_tensor_view* ops[1] = {&t};
  StridedOffsets<1> s = coalesce(strided_offsets(t, ops));
  TRT_CUDA_DISPATCH_FLOAT(a, t.dtype, uniform_values<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                                          s, n, data<scalar_t>(t), seed, offset, low, high - low));
  return check_launch(a, "uniform");
}

// normal: outputs [t], int_attrs [seed, offset (in pairs)], float_attrs [mean, std]
trt_status normal_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  int64_t n = numel(t);
  if (n == 0) return TRT_OK;
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  const trt_tensor_view* ops[1] = {&t};
  StridedOffsets<1> s = coalesce(strided_offsets(t, ops));
  TRT_CUDA_DISPATCH_FLOAT(a, t.dtype, normal_values<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                                          s, n, data<scalar_t>(t), seed, offset, a->float_attrs[0], a->float_attrs[1]));
  return check_launch(a, "normal");
}

}  // namespace

bool register_random(const trt_host_api* host) {
  return add_kernel(host, "uniform", uniform_kernel) && add_kernel(host, "normal", normal_kernel);
}

}  // namespace trt_cuda
