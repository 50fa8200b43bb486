// swish on CUDA: the kernels of swish.cpp, one thread per element (grid
// stride), launched on args->stream. Same formulas and dtypes; only the loop
// differs. Compiled only when nvcc exists (trainrt_add_plugin).
#include "cuda_check.h"
#include "layers.h"

namespace {

// forward: y = x * s, s = sigmoid(beta x)
template <class T>
__global__ void forward_kernel(const T* x, T* y, int64_t n, double beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = T(x[i] / (1.0 + exp(-beta * x[i])));
}

// dx = dy * (s + beta x s (1 - s))
template <class T>
__global__ void backward_kernel(const T* x, const T* dy, T* dx, int64_t n, double beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double s = 1.0 / (1.0 + exp(-beta * x[i]));
    dx[i] = T(dy[i] * (s + beta * x[i] * s * (1 - s)));
  }
}

template <class T>
trt_status forward(const trt_kernel_args* a) {
  int64_t n = trt_sdk::numel(a->inputs[0]);
  if (n == 0) return TRT_OK;
  auto stream = static_cast<cudaStream_t>(a->stream);
  forward_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(trt_sdk::data<const T>(a->inputs[0]),
                                                          trt_sdk::data<T>(a->outputs[0]), n, a->float_attrs[0]);
  return cuda_status(a, "swish forward", cudaGetLastError());
}

// inputs [x, y, dy] -> outputs [dx]
template <class T>
trt_status backward(const trt_kernel_args* a) {
  int64_t n = trt_sdk::numel(a->inputs[0]);
  if (n == 0) return TRT_OK;
  auto stream = static_cast<cudaStream_t>(a->stream);
  backward_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(trt_sdk::data<const T>(a->inputs[0]),
                                                           trt_sdk::data<const T>(a->inputs[2]),
                                                           trt_sdk::data<T>(a->outputs[0]), n, a->float_attrs[0]);
  return cuda_status(a, "swish backward", cudaGetLastError());
}

}  // namespace

trt_status swish_forward_cuda(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "swish", 1, 0)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? forward<double>(a) : forward<float>(a);
}

trt_status swish_backward_cuda(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "swish", 1, 0)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? backward<double>(a) : backward<float>(a);
}
