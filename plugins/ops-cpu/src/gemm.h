// GEMM and threading helpers shared by the matmul, convolution and pooling
// kernels: one place that calls OpenBLAS (cblas_sgemm/cblas_dgemm), keeps its
// thread count equal to the run's `threads` setting, maps a strided 2-D view
// to NoTrans/Trans, splits loops over threads, and reuses scratch buffers.
// Deliberately not here: any GEMM of our own; OpenBLAS does all the arithmetic.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "thread_pool.h"

namespace trt_cpu {

// Sets OpenBLAS's thread count only when it changes (the call is not free).
inline void set_blas_threads(int n) {
  static thread_local int current = -1;
  if (n < 1) n = 1;
  if (n != current) {
    openblas_set_num_threads(n);
    current = n;
  }
}

// Row-major C (M, N) = alpha * op(A) (M, K) x op(B) (K, N) + beta * C.
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)M,
              (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                 int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)M,
              (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

// How BLAS can read a (rows, cols) matrix whose element (i, j) sits at
// i * row_stride + j * col_stride: row-major (NoTrans), column-major (Trans), or
// neither (ok = false: the caller packs a copy).
struct MatLayout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 1;
};

inline MatLayout mat_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  int64_t r = std::max<int64_t>(rows, 1), c = std::max<int64_t>(cols, 1);
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= c)) return {true, false, rows == 1 ? c : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= r)) return {true, true, cols == 1 ? r : col_stride};
  return {};
}

// A grow-only scratch buffer per (thread, slot): convolution's column matrices
// are megabytes, and fresh allocations would page-fault on every call.
template <typename T> T* scratch(int slot, size_t count) {
  static thread_local std::vector<std::unique_ptr<T[]>> buffers;
  static thread_local std::vector<size_t> sizes;
  if (static_cast<size_t>(slot) >= buffers.size()) {
    buffers.resize(slot + 1);
    sizes.resize(slot + 1, 0);
  }
  if (sizes[slot] < count) {
    buffers[slot].reset(new T[count]);
    sizes[slot] = count;
  }
  return buffers[slot].get();
}

}  // namespace trt_cpu
