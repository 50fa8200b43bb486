// Reduction kernels in keepdim form: the output has the input's rank with the
// reduced dims of size 1. sum over any dims; max/argmax along one dim.
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "along_dim.h"
#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {
namespace {

// Sum of n elements `stride` apart. Eight independent accumulators for the
// contiguous case, so the compiler can vectorise without reassociating one sum.
template <typename Acc, typename T> Acc row_sum(const T* p, int64_t n, int64_t stride) {
  if (stride != 1) {
    Acc acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += p[i * stride];
    return acc;
  }
  Acc lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += static_cast<Acc>(p[i + l]);
  Acc acc = 0;
  for (; i < n; ++i) acc += p[i];
  for (Acc lane : lanes) acc += lane;
  return acc;
}

// sum: inputs [x], outputs [y] (keepdim shape, contiguous). Accumulates in double
// for float32. Split over threads by rows of x, each thread into its own partial
// sums (indexed like y), added up at the end: no two threads write one element.
template <typename T, typename Acc>
void sum_into(const trt_tensor_view& x, const trt_tensor_view& y, int threads) {
  // y viewed with x's shape: stride 0 along the reduced dims.
  trt_tensor_view yb = y;
  for (int d = 0; d < x.ndim; ++d) {
    yb.sizes[d] = x.sizes[d];
    if (y.sizes[d] == 1 && x.sizes[d] != 1) yb.strides[d] = 0;
  }
  Coalesced<2> c = coalesce(x, std::array<const trt_tensor_view*, 2>{&yb, &x});
  int64_t ny = numel(y), rows = c.rows();
  int tasks = numel(x) >= kParallelMinElements ? static_cast<int>(std::min<int64_t>(threads, rows)) : 1;
  if (tasks < 1) tasks = 1;
  std::vector<Acc> partial(static_cast<size_t>(tasks * ny), Acc(0));
  const T* in = data<T>(x);
  int64_t chunk = (rows + tasks - 1) / tasks;
  run_tasks(tasks, [&](int t) {
    Acc* acc = partial.data() + t * ny;
    for_rows(c, t * chunk, std::min(rows, (t + 1) * chunk), [&](auto off, int64_t n, auto st) {
      const T* p = in + off[1];
      if (st[0] == 0) acc[off[0]] += row_sum<Acc>(p, n, st[1]);
      else
        for (int64_t i = 0; i < n; ++i) acc[off[0] + i * st[0]] += p[i * st[1]];
    });
  });
  T* out = data<T>(y);
  for (int64_t j = 0; j < ny; ++j) {
    Acc total = partial[j];
    for (int t = 1; t < tasks; ++t) total += partial[t * ny + j];
    out[j] = static_cast<T>(total);
  }
}

trt_status sum_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& x = a->inputs[0];
  const trt_tensor_view& y = a->outputs[0];
  if (!is_contiguous(y)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "sum: output must be contiguous");
  switch (x.dtype) {
    case TRT_FLOAT32: sum_into<float, double>(x, y, a->num_threads); break;
    case TRT_FLOAT64: sum_into<double, double>(x, y, a->num_threads); break;
    case TRT_INT64: sum_into<int64_t, int64_t>(x, y, a->num_threads); break;
    default: return fail(a, TRT_ERR_UNSUPPORTED, "sum: unsupported dtype %d", x.dtype);
  }
  return TRT_OK;
}

template <typename T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// max_dim: inputs [x], outputs [values (keepdim, x's dtype), indices (keepdim, int64)],
// int_attrs [dim]. First index wins ties; a NaN is the maximum (as in PyTorch).
template <typename T> void max_dim_into(const trt_tensor_view& x, const trt_tensor_view& values,
                                        const trt_tensor_view& indices, int dim) {
  const T* in = data<T>(x);
  T* vals = data<T>(values);
  int64_t* idx = data<int64_t>(indices);
  int64_t len = length_along(x, dim), step = stride_along(x, dim);
  along_dim<3>({&x, &values, &indices}, dim, [&](auto off) {
    const T* p = in + off[0];
    T best = p[0];
    int64_t best_i = 0;
    for (int64_t i = 1; i < len; ++i) {
      T v = p[i * step];
      if (is_nan(best)) break;  // a NaN is final
      if (v > best || is_nan(v)) {
        best = v;
        best_i = i;
      }
    }
    vals[off[1]] = best;
    idx[off[2]] = best_i;
  });
}

trt_status max_dim_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& x = a->inputs[0];
  int dim = static_cast<int>(a->int_attrs[0]);
  if (length_along(x, dim) == 0) return fail(a, TRT_ERR_INVALID_ARGUMENT, "max_dim: dim %d is empty", dim);
  TRT_CPU_DISPATCH_ALL(a, x.dtype, max_dim_into<scalar_t>(x, a->outputs[0], a->outputs[1], dim));
  return TRT_OK;
}

// max_dim_backward: inputs [dy (keepdim), indices (keepdim, int64)], outputs [dx],
// int_attrs [dim]. forward: y = x[argmax]  =>  dx = 0 except dx[argmax] = dy.
template <typename T> void max_dim_backward_into(const trt_tensor_view& dy, const trt_tensor_view& indices,
                                                 const trt_tensor_view& dx, int dim) {
  T* out = data<T>(dx);
  zero_fill<T>(dx);
  const T* g = data<T>(dy);
  const int64_t* idx = data<int64_t>(indices);
  int64_t step = stride_along(dx, dim);
  along_dim<3>({&dx, &dy, &indices}, dim, [&](auto off) { out[off[0] + idx[off[2]] * step] = g[off[1]]; });
}

trt_status max_dim_backward_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& dx = a->outputs[0];
  int dim = static_cast<int>(a->int_attrs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, dx.dtype, max_dim_backward_into<scalar_t>(a->inputs[0], a->inputs[1], dx, dim));
  return TRT_OK;
}

}  // namespace

bool register_reduce(const trt_host_api* host) {
  return add_kernel(host, "sum", sum_kernel) && add_kernel(host, "max_dim", max_dim_kernel) &&
         add_kernel(host, "max_dim_backward", max_dim_backward_kernel);
}

}  // namespace trt_cpu
