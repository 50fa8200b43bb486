// Walks "slices along one dim": for every position of the other dims, hands the
// caller each operand's offset of that slice's first element. Used by kernels
// that reduce or normalise along a dim (softmax, max_dim). Operands share the
// shape of views[0] except that some may have size 1 along `dim` (keepdim
// outputs); strides may be anything, 0 included.
#pragma once
#include <array>

#include "kernel_util.h"

namespace trt_cpu {

// Calls slice(offsets) once per slice; offsets[k] is operand k's element offset
// of the slice start. The caller steps along the dim with stride_along(view, dim).
template <size_t K, typename Slice>
void along_dim(const std::array<const trt_tensor_view*, K>& views, int dim, Slice&& slice) {
  trt_tensor_view outer = *views[0];
  if (outer.ndim > 0) outer.sizes[dim] = 1;
  strided_rows<K>(outer, views, [&](auto off, int64_t n, auto st) {
    std::array<int64_t, K> o = off;
    for (int64_t i = 0; i < n; ++i) {
      slice(o);
      for (size_t k = 0; k < K; ++k) o[k] += st[k];
    }
  });
}

// Length of the slices and an operand's step along them (0-dim: one element).
inline int64_t length_along(const trt_tensor_view& v, int dim) { return v.ndim ? v.sizes[dim] : 1; }
inline int64_t stride_along(const trt_tensor_view& v, int dim) { return v.ndim ? v.strides[dim] : 0; }

}  // namespace trt_cpu
