// Reduction kernels in keepdim form (the output has the input's rank with the
// reduced dims of size 1): sum over any dims; max/argmax along one dim and its
// backward. CUDA twin of ops-cpu/src/reduce.cpp. Each output element is a "row"
// of the input, reduced by one thread (short rows) or one block (reduce_util.cuh).
#include <cstdint>
#include <type_traits>

#include "kernel_util.cuh"
#include "kernels.h"
#include "reduce_util.cuh"

namespace trt_cuda {
namespace {

// ---- sum ----

// x: any strides; y: contiguous keepdim shape, `rows` elements. Row j (row-major
// over y) sums x[outer.offset(j) + inner.offset(r)] for r in [0, len): outer
// walks x's kept dims, inner its reduced dims. Acc is double for float32.
template <bool PerThread, typename T, typename Acc>
__global__ void sum_rows(StridedOffsets<1> outer, StridedOffsets<1> inner, int64_t rows, int64_t len, const T* x,
                         T* y) {
  using Tile = RowTiling<PerThread>;
  for (int64_t j = Tile::first_row(); j < rows; j += Tile::row_step()) {
    const T* p = x + outer.offset(j, 0);
    Acc acc = 0;
    for (int64_t r = Tile::first(); r < len; r += Tile::step()) acc += static_cast<Acc>(p[inner.offset(r, 0)]);
    acc = Tile::reduce(acc, SumOp{}, Acc(0));
    if (Tile::leader()) y[j] = static_cast<T>(acc);
  }
}

template <typename T, typename Acc> void sum_launch(const trt_tensor_view& x, const trt_tensor_view& y, cudaStream_t stream) {
  // Split x's dims: kept (y has x's size there) and reduced (y has size 1, x does not).
  StridedOffsets<1> outer, inner;
  for (int d = 0; d < x.ndim; ++d) {
    StridedOffsets<1>& part = y.sizes[d] == 1 && x.sizes[d] != 1 ? inner : outer;
    part.sizes[part.nd] = x.sizes[d];
    part.strides[0][part.nd] = x.strides[d];
    ++part.nd;
  }
  outer = coalesce(outer);
  inner = coalesce(inner);
  int64_t rows = numel(y), len = 1;
  for (int d = 0; d < inner.nd; ++d) len *= inner.sizes[d];
  launch_rows(rows, len, [&](auto per_thread, unsigned grid) {
    sum_rows<decltype(per_thread)::value, T, Acc><<<grid, kBlock, 0, stream>>>(outer, inner, rows, len, data<T>(x),
                                                                                data<T>(y));
  });
}

// sum: inputs [x], outputs [y] (keepdim shape, contiguous). float32 accumulates in double.
trt_status sum_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& x = a->inputs[0];
  const trt_tensor_view& y = a->outputs[0];
  if (!is_contiguous(y)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "sum: output must be contiguous");
  if (numel(y) == 0) return TRT_OK;
  cudaStream_t stream = stream_of(a);
  switch (x.dtype) {
    case TRT_FLOAT32: sum_launch<float, double>(x, y, stream); break;
    case TRT_FLOAT64: sum_launch<double, double>(x, y, stream); break;
    case TRT_INT64: sum_launch<int64_t, int64_t>(x, y, stream); break;
    default: return fail(a, TRT_ERR_UNSUPPORTED, "sum: unsupported dtype %d", x.dtype);
  }
  return check_launch(a, "sum");
}

// ---- max_dim ----

// A candidate maximum: value and its index along the dim (-1 = none yet).
template <typename T> struct ArgMax {
  T value;
  int64_t index;
};

template <typename T> __device__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return isnan(v);
  else return false;
}

// The CPU's sequential rule as a commutative choice: a NaN beats any number,
// a larger value beats a smaller one, and between equals (or two NaNs) the
// first index wins. So any combination order gives the CPU's answer.
struct ArgMaxOp {
  template <typename T> __device__ ArgMax<T> operator()(ArgMax<T> a, ArgMax<T> b) const {
    if (b.index < 0) return a;
    if (a.index < 0) return b;
    bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return a.value > b.value ? a : b;
    return a.index <= b.index ? a : b;
  }
};

template <typename T> __device__ ArgMax<T> shfl_down(ArgMax<T> v, int offset) {
  return {trt_cuda::shfl_down(v.value, offset), trt_cuda::shfl_down(v.index, offset)};
}

// x: (.., len, ..) any strides; values, indices: keepdim (size 1 along dim).
// outer walks the slices (x's shape with dim of size 1) for x, values, indices;
// `step` is x's stride along dim.
template <bool PerThread, typename T>
__global__ void max_rows(StridedOffsets<3> outer, int64_t rows, int64_t len, int64_t step, const T* x, T* values,
                         int64_t* indices) {
  using Tile = RowTiling<PerThread>;
  const ArgMax<T> none{T(0), -1};
  for (int64_t j = Tile::first_row(); j < rows; j += Tile::row_step()) {
    const T* p = x + outer.offset(j, 0);
    ArgMax<T> best = none;
    for (int64_t i = Tile::first(); i < len; i += Tile::step()) best = ArgMaxOp{}(best, ArgMax<T>{p[i * step], i});
    best = Tile::reduce(best, ArgMaxOp{}, none);
    if (Tile::leader()) {
      values[outer.offset(j, 1)] = best.value;
      indices[outer.offset(j, 2)] = best.index;
    }
  }
}

// max_dim: inputs [x], outputs [values (keepdim, x's dtype), indices (keepdim, int64)],
// int_attrs [dim]. First index wins ties; a NaN is the maximum (as in PyTorch).
trt_status max_dim_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& x = a->inputs[0];
  int dim = static_cast<int>(a->int_attrs[0]);
  int64_t len = length_along(x, dim);
  if (len == 0) return fail(a, TRT_ERR_INVALID_ARGUMENT, "max_dim: dim %d is empty", dim);
  const trt_tensor_view* views[3] = {&x, &a->outputs[0], &a->outputs[1]};
  int64_t rows = 0;
  StridedOffsets<3> outer = slices_along(views, dim, &rows);
  if (rows == 0) return TRT_OK;
  int64_t step = stride_along(x, dim);
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_ALL(a, x.dtype, launch_rows(rows, len, [&](auto per_thread, unsigned grid) {
    max_rows<decltype(per_thread)::value, scalar_t><<<grid, kBlock, 0, stream>>>(
        outer, rows, len, step, data<scalar_t>(x), data<scalar_t>(a->outputs[0]), data<int64_t>(a->outputs[1]));
  }));
  return check_launch(a, "max_dim");
}

// dx: zeroed, (.., len, ..); dy, indices: keepdim. outer walks the slices for dx, dy, indices.
// forward: y = x[argmax]  =>  dx = 0 except dx[argmax] = dy.
template <typename T>
__global__ void max_scatter(StridedOffsets<3> outer, int64_t rows, int64_t step, T* dx, const T* dy,
                            const int64_t* indices) {
  TRT_CUDA_GRID_STRIDE(j, rows) dx[outer.offset(j, 0) + indices[outer.offset(j, 2)] * step] = dy[outer.offset(j, 1)];
}

// max_dim_backward: inputs [dy (keepdim), indices (keepdim, int64)], outputs [dx], int_attrs [dim].
trt_status max_dim_backward_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& dx = a->outputs[0];
  int dim = static_cast<int>(a->int_attrs[0]);
  const trt_tensor_view* views[3] = {&dx, &a->inputs[0], &a->inputs[1]};
  int64_t rows = 0;
  StridedOffsets<3> outer = slices_along(views, dim, &rows);
  int64_t step = stride_along(dx, dim);
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_FLOAT(a, dx.dtype, {
    zero_fill<scalar_t>(dx, stream);
    if (rows > 0 && numel(dx) > 0)
      max_scatter<scalar_t><<<blocks_for(rows), kBlock, 0, stream>>>(outer, rows, step, data<scalar_t>(dx),
                                                                      data<scalar_t>(a->inputs[0]),
                                                                      data<int64_t>(a->inputs[1]));
  });
  return check_launch(a, "max_dim_backward");
}

}  // namespace

bool register_reduce(const trt_host_api* host) {
  return add_kernel(host, "sum", sum_kernel) && add_kernel(host, "max_dim", max_dim_kernel) &&
         add_kernel(host, "max_dim_backward", max_dim_backward_kernel);
}

}  // namespace trt_cuda
