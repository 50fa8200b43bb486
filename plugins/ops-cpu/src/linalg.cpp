// matmul kernel: batched GEMM through OpenBLAS (cblas_sgemm / cblas_dgemm).
// Strided views map to NoTrans/Trans with their leading dimension, so transposed
// operands (backward's A^T, B^T) cost no copy; a batch of row-major A against a
// shared B (batch stride 0, as in linear) folds into one tall GEMM.
// Deliberately not here: shape checks and broadcasting (the runtime's matmul).
#include <cstring>

#include "gemm.h"
#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {
namespace {

// Copies a (B, R, C) strided view into a contiguous buffer.
template <typename T> T* pack(const trt_tensor_view& v, int slot) {
  int64_t B = v.sizes[0], R = v.sizes[1], C = v.sizes[2];
  T* out = scratch<T>(slot, static_cast<size_t>(B * R * C));
  const T* in = data<T>(v);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        out[(b * R + r) * C + c] = in[b * v.strides[0] + r * v.strides[1] + c * v.strides[2]];
  return out;
}

template <typename T> trt_status matmul_typed(const trt_kernel_args* a) {
  const trt_tensor_view& av = a->inputs[0];   // a: (B, M, K)
  const trt_tensor_view& bv = a->inputs[1];   // b: (B, K, N)
  const trt_tensor_view& cv = a->outputs[0];  // c: (B, M, N) contiguous
  int64_t B = av.sizes[0], M = av.sizes[1], K = av.sizes[2], N = bv.sizes[2];
  bool accumulate = a->n_int_attrs > 0 && a->int_attrs[0] != 0;
  T* c = data<T>(cv);
  if (B * M * N == 0) return TRT_OK;
  if (K == 0) {
    if (!accumulate) std::memset(c, 0, sizeof(T) * static_cast<size_t>(B * M * N));
    return TRT_OK;
  }
  set_blas_threads(a->num_threads);

  const T* ap = data<T>(av);
  const T* bp = data<T>(bv);
  int64_t a_batch = av.strides[0], b_batch = bv.strides[0];
  MatLayout la = mat_layout(M, K, av.strides[1], av.strides[2]);
  MatLayout lb = mat_layout(K, N, bv.strides[1], bv.strides[2]);
  if (!la.ok) {
    ap = pack<T>(av, 0);
    a_batch = M * K;
    la = {true, false, K};
  }
  if (!lb.ok) {
    bp = pack<T>(bv, 1);
    b_batch = K * N;
    lb = {true, false, N};
  }
  T beta = accumulate ? T(1) : T(0);
  // Row-major A batches stacked at a regular pitch against one shared B: one GEMM.
  if (B > 1 && b_batch == 0 && !la.trans && a_batch == M * la.ld) {
    gemm(false, lb.trans, B * M, N, K, T(1), ap, la.ld, bp, lb.ld, beta, c, N);
    return TRT_OK;
  }
  for (int64_t b = 0; b < B; ++b)
    gemm(la.trans, lb.trans, M, N, K, T(1), ap + b * a_batch, la.ld, bp + b * b_batch, lb.ld, beta, c + b * M * N, N);
  return TRT_OK;
}

// matmul: inputs [a (B, M, K), b (B, K, N)], outputs [c (B, M, N) contiguous],
// int_attrs [accumulate] (optional; 1 = c += a x b).
trt_status matmul_kernel(const trt_kernel_args* a) {
  if (trt_status s = trt_plugin_util::check_matmul_args(a)) return s;
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return matmul_typed<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

bool register_linalg(const trt_host_api* host) { return add_kernel(host, "matmul", matmul_kernel); }

}  // namespace trt_cpu
