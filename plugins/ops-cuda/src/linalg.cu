// matmul kernel: batched GEMM through cuBLAS (cublasSgemmStridedBatched_64 /
// cublasDgemmStridedBatched_64, opened lazily by cuda_libs.cpp). Twin of
// ops-cpu/src/linalg.cpp: the same NoTrans/Trans reading of strided views, the
// same packing of views that are neither, the same folding of a shared B.
// Differs only in that cuBLAS is column-major: row-major C = A·B is computed as
// column-major Cᵀ = Bᵀ·Aᵀ, so B is passed first.
// Deliberately not here: shape checks and broadcasting (the runtime's matmul).
#include <cuda_runtime.h>

#include "cuda_libs.h"
#include "kernel_util.cuh"
#include "kernels.h"

namespace trt_cuda {
namespace {

// How a (rows, cols) matrix view is read: row-major (NoTrans, ld = row stride)
// or column-major (Trans, ld = column stride); ok = false when it is neither.
// Same rule as ops-cpu's gemm.h mat_layout.
struct MatLayout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 1;
};

MatLayout mat_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  int64_t r = rows > 1 ? rows : 1, c = cols > 1 ? cols : 1;
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= c)) return {true, false, rows == 1 ? c : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= r)) return {true, true, cols == 1 ? r : col_stride};
  return {};
}

// out (B, R, C) contiguous <- in, a strided (B, R, C) view.
template <typename T> __global__ void pack_kernel(StridedOffsets<1> s, const T* in, T* out, int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) out[i] = in[s.offset(i, 0)];
}

// A temporary device buffer, allocated and freed in stream order.
struct StreamBuffer {
  void* ptr = nullptr;
  cudaStream_t stream = nullptr;
  StreamBuffer() = default;
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  ~StreamBuffer() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
};

// Packs view v (B, R, C) into buf; *out points at the contiguous copy.
template <typename T>
trt_status pack(const trt_kernel_args* a, const trt_tensor_view& v, StreamBuffer& buf, const T** out) {
  int64_t n = numel(v);
  buf.stream = stream_of(a);
  cudaError_t e = cudaMallocAsync(&buf.ptr, sizeof(T) * static_cast<size_t>(n), buf.stream);
  if (e != cudaSuccess) {
    cudaGetLastError();
    buf.ptr = nullptr;
    return fail(a, e == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL,
                "matmul: cannot allocate %lld bytes to pack an operand: %s", static_cast<long long>(sizeof(T) * n),
                cudaGetErrorString(e));
  }
  StridedOffsets<1> s;
  s.nd = 3;
  for (int d = 0; d < 3; ++d) {
    s.sizes[d] = v.sizes[d];
    s.strides[0][d] = v.strides[d];
  }
  pack_kernel<T><<<blocks_for(n), kBlock, 0, buf.stream>>>(s, data<const T>(v), static_cast<T*>(buf.ptr), n);
  *out = static_cast<const T*>(buf.ptr);
  return check_launch(a, "matmul");
}

// Column-major C (m, n) = op(A) (m, k) · op(B) (k, n) per batch, typed.
cublasStatus_t gemm_strided_batched(const CublasApi* api, cublasHandle_t h, cublasOperation_t op_a,
                                    cublasOperation_t op_b, int64_t m, int64_t n, int64_t k, const float* alpha,
                                    const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                                    int64_t stride_b, const float* beta, float* C, int64_t ldc, int64_t stride_c,
                                    int64_t batch) {
  return api->sgemm_strided_batched(h, op_a, op_b, m, n, k, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                    stride_c, batch);
}
cublasStatus_t gemm_strided_batched(const CublasApi* api, cublasHandle_t h, cublasOperation_t op_a,
                                    cublasOperation_t op_b, int64_t m, int64_t n, int64_t k, const double* alpha,
                                    const double* A, int64_t lda, int64_t stride_a, const double* B, int64_t ldb,
                                    int64_t stride_b, const double* beta, double* C, int64_t ldc, int64_t stride_c,
                                    int64_t batch) {
  return api->dgemm_strided_batched(h, op_a, op_b, m, n, k, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                    stride_c, batch);
}

template <typename T> trt_status matmul_typed(const trt_kernel_args* a) {
  const trt_tensor_view& av = a->inputs[0];   // a: (B, M, K)
  const trt_tensor_view& bv = a->inputs[1];   // b: (B, K, N)
  const trt_tensor_view& cv = a->outputs[0];  // c: (B, M, N) contiguous
  int64_t B = av.sizes[0], M = av.sizes[1], K = av.sizes[2], N = bv.sizes[2];
  bool accumulate = a->n_int_attrs > 0 && a->int_attrs[0] != 0;
  T* c = data<T>(cv);
  if (B * M * N == 0) return TRT_OK;
  cudaStream_t stream = stream_of(a);
  if (trt_status s = use_device(a, "matmul", cv.device_index); s != TRT_OK) return s;
  if (K == 0) {
    if (accumulate) return TRT_OK;
    cudaError_t e = cudaMemsetAsync(c, 0, sizeof(T) * static_cast<size_t>(B * M * N), stream);
    return e == cudaSuccess ? TRT_OK : check_launch(a, "matmul");
  }
  const CublasApi* api = nullptr;
  cublasHandle_t handle = nullptr;
  if (trt_status s = cublas_handle(a, "matmul", cv.device_index, stream, &api, &handle); s != TRT_OK) return s;

  const T* ap = data<const T>(av);
  const T* bp = data<const T>(bv);
  int64_t a_batch = av.strides[0], b_batch = bv.strides[0];
  MatLayout la = mat_layout(M, K, av.strides[1], av.strides[2]);
  MatLayout lb = mat_layout(K, N, bv.strides[1], bv.strides[2]);
  StreamBuffer a_packed, b_packed;  // freed on the stream after the GEMM is queued
  if (!la.ok) {
    if (trt_status s = pack<T>(a, av, a_packed, &ap); s != TRT_OK) return s;
    a_batch = M * K;
    la = {true, false, K};
  }
  if (!lb.ok) {
    if (trt_status s = pack<T>(a, bv, b_packed, &bp); s != TRT_OK) return s;
    b_batch = K * N;
    lb = {true, false, N};
  }
  T alpha = T(1), beta = accumulate ? T(1) : T(0);
  // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: a row-major operand is already
  // its transpose in column-major terms (NoTrans), a column-major one needs Trans.
  cublasOperation_t op_b = lb.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_a = la.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t st;
  if (B > 1 && b_batch == 0 && !la.trans && a_batch == M * la.ld) {
    // Row-major A batches stacked at a regular pitch against one shared B: one (B·M, K) × (K, N) GEMM.
    st = gemm_strided_batched(api, handle, op_b, op_a, N, B * M, K, &alpha, bp, lb.ld, 0, ap, la.ld, 0, &beta, c, N, 0,
                              1);
  } else {
    st = gemm_strided_batched(api, handle, op_b, op_a, N, M, K, &alpha, bp, lb.ld, b_batch, ap, la.ld, a_batch, &beta,
                              c, N, M * N, B);
  }
  if (st != CUBLAS_STATUS_SUCCESS) return cublas_fail(a, "matmul", st);
  return check_launch(a, "matmul");
}

// matmul: inputs [a (B, M, K), b (B, K, N)], outputs [c (B, M, N) contiguous],
// int_attrs [accumulate] (optional; 1 = c += a x b).
trt_status matmul_kernel(const trt_kernel_args* a) {
  if (trt_status s = trt_plugin_util::check_matmul_args(a)) return s;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype, return matmul_typed<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

bool register_linalg(const trt_host_api* host) { return add_kernel(host, "matmul", matmul_kernel); }

}  // namespace trt_cuda
