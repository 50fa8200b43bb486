// Helpers every CPU kernel uses: argument access, error reporting, dtype
// dispatch and the strided loop that walks operands of one shape row by row.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>

#include "thread_pool.h"
#include "trainrt/plugin_abi.h"
#include "trt_plugin_util/kernel_args.h"

namespace trt_cpu {

// Shared with ops-cuda (plugins/common/include/trt_plugin_util/kernel_args.h).
using trt_plugin_util::data;
using trt_plugin_util::fail;
using trt_plugin_util::is_contiguous;
using trt_plugin_util::numel;
#define TRT_CPU_DISPATCH_FLOAT TRT_KERNEL_DISPATCH_FLOAT
#define TRT_CPU_DISPATCH_ALL TRT_KERNEL_DISPATCH_ALL

// Bytes per element of a floating dtype (float32 or float64).
inline int64_t float_bytes(int32_t dtype) { return dtype == TRT_FLOAT64 ? 8 : 4; }

// The call `a` with other operands and int_attrs (the rest, threads and error
// buffer included, as they are): for a kernel that runs others piecewise.
inline trt_kernel_args with_operands(const trt_kernel_args* a, const trt_tensor_view* in, int n_in,
                                     const trt_tensor_view* out, int n_out, const int64_t* attrs, int n_attrs) {
  trt_kernel_args b = *a;
  b.inputs = in;
  b.n_inputs = n_in;
  b.outputs = out;
  b.n_outputs = n_out;
  b.int_attrs = attrs;
  b.n_int_attrs = n_attrs;
  return b;
}

// K operands that share a shape, with dims of size 1 dropped and dims merged
// where every operand steps through them as one (contiguous operands become a
// single long row). Rows are the innermost dim; offsets are in elements.
template <size_t K> struct Coalesced {
  int nd = 0;
  int64_t sizes[TRT_MAX_DIMS];
  int64_t strides[K][TRT_MAX_DIMS];

  int64_t rows() const {
    int64_t r = 1;
    for (int d = 0; d + 1 < nd; ++d) r *= sizes[d];
    return r;
  }
  int64_t row_length() const { return nd ? sizes[nd - 1] : 1; }
  std::array<int64_t, K> inner_strides() const {
    std::array<int64_t, K> inner{};
    if (nd)
      for (size_t k = 0; k < K; ++k) inner[k] = strides[k][nd - 1];
    return inner;
  }
};

template <size_t K>
Coalesced<K> coalesce(const trt_tensor_view& shape, const std::array<const trt_tensor_view*, K>& ops) {
  Coalesced<K> c;
  for (int d = 0; d < shape.ndim; ++d) {
    if (shape.sizes[d] == 1) continue;
    bool merge = c.nd > 0;
    for (size_t k = 0; k < K && merge; ++k)
      if (c.strides[k][c.nd - 1] != ops[k]->strides[d] * shape.sizes[d]) merge = false;
    if (merge) {
      c.sizes[c.nd - 1] *= shape.sizes[d];
      for (size_t k = 0; k < K; ++k) c.strides[k][c.nd - 1] = ops[k]->strides[d];
      continue;
    }
    c.sizes[c.nd] = shape.sizes[d];
    for (size_t k = 0; k < K; ++k) c.strides[k][c.nd] = ops[k]->strides[d];
    ++c.nd;
  }
  return c;
}

// Calls row(offsets, n, inner_strides) for rows [first, last) of c.
template <size_t K, typename Row> void for_rows(const Coalesced<K>& c, int64_t first, int64_t last, Row&& row) {
  if (first >= last) return;  // no rows: a size-0 outer dim would divide by zero below
  std::array<int64_t, K> inner = c.inner_strides(), offsets{};
  int64_t index[TRT_MAX_DIMS] = {0};
  int64_t rest = first;  // multi-index of row `first` over dims [0, nd - 1)
  for (int d = c.nd - 2; d >= 0; --d) {
    index[d] = rest % c.sizes[d];
    rest /= c.sizes[d];
    for (size_t k = 0; k < K; ++k) offsets[k] += index[d] * c.strides[k][d];
  }
  for (int64_t r = first; r < last; ++r) {
    row(offsets, c.row_length(), inner);
    for (int d = c.nd - 2; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < K; ++k) offsets[k] += c.strides[k][d];
      if (index[d] < c.sizes[d]) break;
      for (size_t k = 0; k < K; ++k) offsets[k] -= c.strides[k][d] * c.sizes[d];
      index[d] = 0;
    }
  }
}

// Walks K operands that share `shape` (strides may differ, 0 = broadcast),
// calling row(offsets, n, inner_strides) once per innermost row.
template <size_t K, typename Row>
void strided_rows(const trt_tensor_view& shape, const std::array<const trt_tensor_view*, K>& ops, Row&& row) {
  Coalesced<K> c = coalesce(shape, ops);
  for_rows(c, 0, c.rows(), row);
}

// Sets every element of t to 0, on the calling thread; the backward kernels that
// scatter a gradient into one element per row start from this.
template <typename T> void zero_fill(const trt_tensor_view& t) {
  T* p = data<T>(t);
  strided_rows<1>(t, {&t}, [&](auto off, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = T(0);
  });
}

// Below this many elements an element-wise kernel stays on one thread: waking
// the pool costs more than it saves.
inline constexpr int64_t kParallelMinElements = 1 << 16;

// strided_rows split over `threads`: by rows, or within the row when there is
// only one. ops[0] must be the output; it stays serial if the output broadcasts
// (a stride-0 dim would be written by several threads).
template <size_t K, typename Row>
void strided_rows_parallel(const trt_tensor_view& shape, const std::array<const trt_tensor_view*, K>& ops,
                           int threads, Row&& row) {
  Coalesced<K> c = coalesce(shape, ops);
  int64_t rows = c.rows(), length = c.row_length();
  bool output_broadcasts = false;
  for (int d = 0; d < c.nd; ++d) output_broadcasts |= c.strides[0][d] == 0;
  if (threads <= 1 || output_broadcasts || rows * length < kParallelMinElements) {
    for_rows(c, 0, rows, row);
    return;
  }
  if (rows == 1) {
    std::array<int64_t, K> inner = c.inner_strides();
    parallel_for(length, threads, [&](int64_t begin, int64_t end) {
      std::array<int64_t, K> offsets{};
      for (size_t k = 0; k < K; ++k) offsets[k] = begin * inner[k];
      row(offsets, end - begin, inner);
    }, kParallelMinElements / 2);
    return;
  }
  parallel_for(rows, threads, [&](int64_t begin, int64_t end) { for_rows(c, begin, end, row); },
               std::max<int64_t>(1, kParallelMinElements / 2 / length));
}

}  // namespace trt_cpu
