// What every kernel of the CPU and CUDA plugins does with its trt_kernel_args:
// a one-line error, typed data, element counts, contiguity, dtype dispatch, and
// the argument checks matmul and the pooling kernels share. Host code only (nvcc compiles it
// for the host side of .cu files), so ops-cpu and ops-cuda check and fail alike.
#pragma once
#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "trainrt/plugin_abi.h"

namespace trt_plugin_util {

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

// Pooling over contiguous NCHW: x (N, C, H, W) as planes = N*C, y (N, C, OH, OW);
// int attrs kh, kw, sh, sw, ph, pw (docs/ops.md).
struct PoolGeom {
  int64_t planes, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw;
};

inline PoolGeom pool_geometry(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& y) {
  const int64_t* at = a->int_attrs;
  return PoolGeom{x.sizes[0] * x.sizes[1], x.sizes[2], x.sizes[3], y.sizes[2], y.sizes[3],
                  at[0],                   at[1],      at[2],      at[3],      at[4], at[5]};
}

// The argument counts of a pooling kernel, and contiguous 4-D operands.
inline trt_status check_pool_args(const trt_kernel_args* a, const char* op, int n_in, int n_out, int n_attrs) {
  if (a->n_inputs != n_in || a->n_outputs != n_out || a->n_int_attrs < n_attrs)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: wrong number of inputs, outputs or int_attrs (see docs/ops.md)", op);
  for (int i = 0; i < n_in; ++i)
    if (a->inputs[i].ndim != 4 || !is_contiguous(a->inputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: inputs must be contiguous 4-D tensors", op);
  for (int i = 0; i < n_out; ++i)
    if (a->outputs[i].ndim != 4 || !is_contiguous(a->outputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: outputs must be contiguous 4-D tensors", op);
  return TRT_OK;
}

// matmul's operands (docs/ops.md): a (B, M, K), b (B, K, N), c (B, M, N) contiguous.
inline trt_status check_matmul_args(const trt_kernel_args* a) {
  if (a->n_inputs != 2 || a->n_outputs != 1 || a->inputs[0].ndim != 3 || a->inputs[1].ndim != 3 ||
      a->outputs[0].ndim != 3)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "matmul: expects inputs [a (B, M, K), b (B, K, N)] and output [c (B, M, N)]");
  if (!is_contiguous(a->outputs[0])) return fail(a, TRT_ERR_INVALID_ARGUMENT, "matmul: output must be contiguous");
  return TRT_OK;
}

}  // namespace trt_plugin_util

// Runs the body with scalar_t the C++ type of `dtype`; floating types only, or all four.
#define TRT_KERNEL_DISPATCH_FLOAT(args, dtype, ...)                                                \
  switch (dtype) {                                                                                 \
    case TRT_FLOAT32: { using scalar_t = float; __VA_ARGS__; break; }                              \
    case TRT_FLOAT64: { using scalar_t = double; __VA_ARGS__; break; }                             \
    default: return ::trt_plugin_util::fail(args, TRT_ERR_UNSUPPORTED, "unsupported dtype %d (needs float32 or float64)", dtype); \
  }
#define TRT_KERNEL_DISPATCH_ALL(args, dtype, ...)                                                  \
  switch (dtype) {                                                                                 \
    case TRT_FLOAT32: { using scalar_t = float; __VA_ARGS__; break; }                              \
    case TRT_FLOAT64: { using scalar_t = double; __VA_ARGS__; break; }                             \
    case TRT_INT64: { using scalar_t = int64_t; __VA_ARGS__; break; }                              \
    case TRT_UINT8: { using scalar_t = uint8_t; __VA_ARGS__; break; }                              \
    default: return ::trt_plugin_util::fail(args, TRT_ERR_UNSUPPORTED, "unsupported dtype %d", dtype); \
  }
