// Reduction kernels in keepdim form: the output has the input's rank with the
// reduced dims of size 1.
#include <cstring>

#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {
namespace {

// sum: inputs [x], outputs [y] (keepdim shape). Accumulates in double for float32.
template <typename T, typename Acc> void sum_into(const trt_tensor_view& x, const trt_tensor_view& y) {
  // View y as x's shape with stride 0 along the reduced dims.
  trt_tensor_view yb = y;
  for (int d = 0; d < x.ndim; ++d) {
    yb.sizes[d] = x.sizes[d];
    if (y.sizes[d] == 1 && x.sizes[d] != 1) yb.strides[d] = 0;
  }
  int64_t ny = numel(y);
  T* out = data<T>(y);
  const T* in = data<T>(x);
  if (is_contiguous(y) && ny == 1) {  // full reduction
    Acc acc = 0;
    strided_rows<1>(x, {&x}, [&](auto off, int64_t n, auto st) {
      for (int64_t i = 0; i < n; ++i) acc += in[off[0] + i * st[0]];
    });
    out[0] = static_cast<T>(acc);
    return;
  }
  strided_rows<1>(y, {&y}, [&](auto off, int64_t n, auto st) {
    for (int64_t i = 0; i < n; ++i) out[off[0] + i * st[0]] = 0;
  });
  strided_rows<2>(x, {&yb, &x}, [&](auto off, int64_t n, auto st) {
    T* o = out + off[0];
    const T* p = in + off[1];
    if (st[0] == 0) {
      Acc acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += p[i * st[1]];
      *o += static_cast<T>(acc);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] += p[i * st[1]];
    }
  });
}

trt_status sum_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& x = a->inputs[0];
  const trt_tensor_view& y = a->outputs[0];
  switch (x.dtype) {
    case TRT_FLOAT32: sum_into<float, double>(x, y); break;
    case TRT_FLOAT64: sum_into<double, double>(x, y); break;
    case TRT_INT64: sum_into<int64_t, int64_t>(x, y); break;
    default: return fail(a, TRT_ERR_UNSUPPORTED, "sum: unsupported dtype %d", x.dtype);
  }
  return TRT_OK;
}

}  // namespace

bool register_reduce(const trt_host_api* host) { return add_kernel(host, "sum", sum_kernel); }

}  // namespace trt_cpu
