// layernorm on CUDA: the kernels of layernorm.cpp, launched on args->stream.
// Differences from the CPU code: one 256-thread block per row reduces the
// row's sums in shared memory, and dgamma/dbeta use one thread per feature
// that walks the rows (each sum has one owner, as on the CPU).
#include "cuda_check.h"
#include "layers.h"

namespace {

constexpr int kBlock = 256;  // a power of two (block_sum halves it)

// The sum of v over the block; every thread gets it.
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  double sum = shared[0];
  __syncthreads();
  return sum;
}

// x: (rows, F) -> y: (rows, F), mean: (rows), rstd: (rows)
template <class T>
__global__ void forward_kernel(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t rows,
                               int64_t F, double eps) {
  __shared__ double shared[kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * F;
    double m = 0, v = 0;
    for (int64_t f = threadIdx.x; f < F; f += blockDim.x) m += xr[f];
    m = block_sum(m, shared) / double(F);
    for (int64_t f = threadIdx.x; f < F; f += blockDim.x) v += (xr[f] - m) * (xr[f] - m);
    double s = rsqrt(block_sum(v, shared) / double(F) + eps);
    for (int64_t f = threadIdx.x; f < F; f += blockDim.x) y[r * F + f] = T((xr[f] - m) * s * gamma[f] + beta[f]);
    if (threadIdx.x == 0) {
      mean[r] = T(m);
      rstd[r] = T(s);
    }
  }
}

// dx = rstd * (g - mean_f(g) - xhat * mean_f(g * xhat)), g = dy * gamma
template <class T>
__global__ void backward_dx_kernel(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, T* dx,
                                   int64_t rows, int64_t F) {
  __shared__ double shared[kBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *xr = x + r * F, *dyr = dy + r * F;
    const double m = mean[r], s = rstd[r];
    double sum_g = 0, sum_gx = 0;
    for (int64_t f = threadIdx.x; f < F; f += blockDim.x) {
      double g = double(dyr[f]) * gamma[f];
      sum_g += g;
      sum_gx += g * (xr[f] - m) * s;
    }
    sum_g = block_sum(sum_g, shared) / double(F);
    sum_gx = block_sum(sum_gx, shared) / double(F);
    for (int64_t f = threadIdx.x; f < F; f += blockDim.x) {
      double g = double(dyr[f]) * gamma[f];
      dx[r * F + f] = T(s * (g - sum_g - (xr[f] - m) * s * sum_gx));
    }
  }
}

// dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy
template <class T>
__global__ void backward_params_kernel(const T* x, const T* mean, const T* rstd, const T* dy, T* dgamma, T* dbeta,
                                       int64_t rows, int64_t F) {
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < F; f += int64_t(gridDim.x) * blockDim.x) {
    double sum_dyx = 0, sum_dy = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double d = dy[r * F + f];
      sum_dyx += d * (x[r * F + f] - mean[r]) * rstd[r];
      sum_dy += d;
    }
    dgamma[f] = T(sum_dyx);
    dbeta[f] = T(sum_dy);
  }
}

unsigned row_blocks(int64_t rows) { return unsigned(rows < 65535 ? (rows > 0 ? rows : 1) : 65535); }

template <class T>
trt_status forward(const trt_kernel_args* a) {
  const int64_t F = a->int_attrs[0], rows = trt_sdk::numel(a->inputs[0]) / F;
  if (rows == 0) return TRT_OK;
  auto stream = static_cast<cudaStream_t>(a->stream);
  forward_kernel<T><<<row_blocks(rows), kBlock, 0, stream>>>(
      trt_sdk::data<const T>(a->inputs[0]), trt_sdk::data<const T>(a->inputs[1]), trt_sdk::data<const T>(a->inputs[2]),
      trt_sdk::data<T>(a->outputs[0]), trt_sdk::data<T>(a->outputs[1]), trt_sdk::data<T>(a->outputs[2]), rows, F,
      a->float_attrs[0]);
  return cuda_status(a, "layernorm forward", cudaGetLastError());
}

// inputs [x, gamma, beta, y, mean, rstd, dy, dmean, drstd] -> outputs [dx, dgamma, dbeta]
template <class T>
trt_status backward(const trt_kernel_args* a) {
  const int64_t F = a->int_attrs[0], rows = trt_sdk::numel(a->inputs[0]) / F;
  if (rows == 0) return TRT_OK;
  auto stream = static_cast<cudaStream_t>(a->stream);
  const T* x = trt_sdk::data<const T>(a->inputs[0]);
  const T* mean = trt_sdk::data<const T>(a->inputs[4]);
  const T* rstd = trt_sdk::data<const T>(a->inputs[5]);
  const T* dy = trt_sdk::data<const T>(a->inputs[6]);
  backward_dx_kernel<T><<<row_blocks(rows), kBlock, 0, stream>>>(x, trt_sdk::data<const T>(a->inputs[1]), mean, rstd,
                                                                  dy, trt_sdk::data<T>(a->outputs[0]), rows, F);
  if (trt_status s = cuda_status(a, "layernorm backward (dx)", cudaGetLastError())) return s;
  backward_params_kernel<T><<<grid_for(F, kBlock), kBlock, 0, stream>>>(
      x, mean, rstd, dy, trt_sdk::data<T>(a->outputs[1]), trt_sdk::data<T>(a->outputs[2]), rows, F);
  return cuda_status(a, "layernorm backward (dgamma, dbeta)", cudaGetLastError());
}

}  // namespace

trt_status layernorm_forward_cuda(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "layernorm", 1, 1)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? forward<double>(a) : forward<float>(a);
}

trt_status layernorm_backward_cuda(const trt_kernel_args* a) {
  if (trt_status s = trt_sdk::expect_attrs(a, "layernorm", 1, 1)) return s;
  return a->inputs[0].dtype == TRT_FLOAT64 ? backward<double>(a) : backward<float>(a);
}
