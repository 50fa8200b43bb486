// Helpers every CPU kernel uses: argument access, error reporting, dtype
// dispatch and the strided loop that walks operands of one shape row by row.
#pragma once
#include <array>
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "trainrt/plugin_abi.h"

namespace trt_cpu {

// Writes a printf-style one-line message into the kernel's error buffer.
inline trt_status fail(const trt_kernel_args* a, trt_status status, const char* fmt, ...) {
  if (a->error && a->error_capacity) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(a->error, a->error_capacity, fmt, ap);
    va_end(ap);
  }
  return status;
}

template <typename T> T* data(const trt_tensor_view& v) { return static_cast<T*>(v.data); }

inline int64_t numel(const trt_tensor_view& v) {
  int64_t n = 1;
  for (int i = 0; i < v.ndim; ++i) n *= v.sizes[i];
  return n;
}

inline bool is_contiguous(const trt_tensor_view& v) {
  int64_t expected = 1;
  for (int i = v.ndim - 1; i >= 0; --i) {
    if (v.sizes[i] == 1) continue;
    if (v.strides[i] != expected) return false;
    expected *= v.sizes[i];
  }
  return true;
}

// Calls f(T{}) with T the C++ type of `dtype`; floating types only, or all four.
#define TRT_CPU_DISPATCH_FLOAT(args, dtype, ...)                                                   \
  switch (dtype) {                                                                                 \
    case TRT_FLOAT32: { using scalar_t = float; __VA_ARGS__; break; }                              \
    case TRT_FLOAT64: { using scalar_t = double; __VA_ARGS__; break; }                             \
    default: return ::trt_cpu::fail(args, TRT_ERR_UNSUPPORTED, "unsupported dtype %d (needs float32 or float64)", dtype); \
  }
#define TRT_CPU_DISPATCH_ALL(args, dtype, ...)                                                     \
  switch (dtype) {                                                                                 \
    case TRT_FLOAT32: { using scalar_t = float; __VA_ARGS__; break; }                              \
    case TRT_FLOAT64: { using scalar_t = double; __VA_ARGS__; break; }                             \
    case TRT_INT64: { using scalar_t = int64_t; __VA_ARGS__; break; }                              \
    case TRT_UINT8: { using scalar_t = uint8_t; __VA_ARGS__; break; }                              \
    default: return ::trt_cpu::fail(args, TRT_ERR_UNSUPPORTED, "unsupported dtype %d", dtype);   \
  }

// Walks K operands that share `shape` (strides may differ, 0 = broadcast).
// Calls row(offsets, n, inner_strides) once per innermost row, where offsets[k]
// is operand k's element offset of the row start. Dims are coalesced first so
// contiguous operands become one long row.
template <size_t K, typename Row>
void strided_rows(const trt_tensor_view& shape, const std::array<const trt_tensor_view*, K>& ops, Row&& row) {
  int64_t sizes[TRT_MAX_DIMS];
  int64_t strides[K][TRT_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < shape.ndim; ++d) {
    if (shape.sizes[d] == 1) continue;
    sizes[nd] = shape.sizes[d];
    for (size_t k = 0; k < K; ++k) strides[k][nd] = ops[k]->strides[d];
    ++nd;
  }
  // Merge dim d into d+1 when every operand steps through them as one.
  int w = 0;
  for (int d = 0; d < nd; ++d) {
    if (w > 0) {
      bool mergeable = true;
      for (size_t k = 0; k < K; ++k)
        if (strides[k][w - 1] != strides[k][d] * sizes[d]) mergeable = false;
      if (mergeable) {
        sizes[w - 1] *= sizes[d];
        for (size_t k = 0; k < K; ++k) strides[k][w - 1] = strides[k][d];
        continue;
      }
    }
    sizes[w] = sizes[d];
    for (size_t k = 0; k < K; ++k) strides[k][w] = strides[k][d];
    ++w;
  }
  nd = w;
  std::array<int64_t, K> inner{}, offsets{};
  if (nd == 0) {
    row(offsets, int64_t{1}, inner);
    return;
  }
  for (size_t k = 0; k < K; ++k) inner[k] = strides[k][nd - 1];
  int64_t n_inner = sizes[nd - 1];
  int64_t index[TRT_MAX_DIMS] = {0};
  while (true) {
    row(offsets, n_inner, inner);
    int d = nd - 2;
    for (; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < K; ++k) offsets[k] += strides[k][d];
      if (index[d] < sizes[d]) break;
      for (size_t k = 0; k < K; ++k) offsets[k] -= strides[k][d] * sizes[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace trt_cpu
