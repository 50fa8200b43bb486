// Pooling kernels over NCHW planes: max_pool2d (the backward finds the arg-max
// again from x and y) and avg_pool2d (count_include_pad as in PyTorch), each
// with its backward. Twin of ops-cpu/src/pool2d.cpp, with the same window,
// tie, NaN and divisor rules, so results match the CPU bit for bit.
// Differs: one thread per output element (forward) or per input element
// (backward: a gather over the windows that contain it, in the CPU's window
// order, so there are no atomics and the sums are deterministic).
// Deliberately not here: shape checks (runtime/ops/conv_pool.cpp), ceil_mode, cuDNN.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda_libs.h"
#include "kernel_util.cuh"
#include "kernels.h"

namespace trt_cuda {
namespace {

using trt_plugin_util::PoolGeom;

PoolGeom geom(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& y) {
  return trt_plugin_util::pool_geometry(a, x, y);
}

trt_status check(const trt_kernel_args* a, const char* op, int n_in, int n_out, int n_attrs) {
  if (trt_status s = trt_plugin_util::check_pool_args(a, op, n_in, n_out, n_attrs)) return s;
  if (a->int_attrs[0] < 1 || a->int_attrs[1] < 1 || a->int_attrs[2] < 1 || a->int_attrs[3] < 1)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: kernel size and stride must be >= 1", op);
  return use_device(a, op, a->inputs[0].device_index);
}

// A window's winner: the first element strictly greater than all before it,
// or the first NaN (NaN wins, as in PyTorch). Same as the CPU.
template <typename T> __device__ __forceinline__ bool replaces(T candidate, T best) {
  return candidate > best || (candidate != candidate && best == best);
}
template <typename T> __device__ __forceinline__ bool is_winner(T v, T y) { return v == y || (v != v && y != y); }

__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// The outputs whose window (unclipped: [o*s - p, o*s - p + k)) contains input
// position i: [first, last], possibly empty (first > last).
__device__ __forceinline__ void windows_containing(int64_t i, int64_t k, int64_t s, int64_t p, int64_t out_size,
                                                   int64_t* first, int64_t* last) {
  int64_t lo = i + p - k + 1;  // o*s >= lo
  *first = lo <= 0 ? 0 : (lo + s - 1) / s;
  *last = imin((i + p) / s, out_size - 1);
}

// y: (planes, OH, OW) = max over each window of x: (planes, H, W); one thread per y element.
template <typename T> __global__ void max_pool_kernel(PoolGeom g, const T* x, T* y, int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* in = x + p * g.H * g.W;
    int64_t h0 = imax(oh * g.sh - g.ph, 0), h1 = imin(oh * g.sh - g.ph + g.kh, g.H);
    int64_t w0 = imax(ow * g.sw - g.pw, 0), w1 = imin(ow * g.sw - g.pw + g.kw, g.W);
    T m = h0 < g.H && w0 < g.W ? in[h0 * g.W + w0] : T(-INFINITY);  // the CPU starts from the window's first element
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw)
        if (replaces(in[ih * g.W + iw], m)) m = in[ih * g.W + iw];
    y[i] = m;
  }
}

// forward: y = x[winner of window]  =>  dx[winner] += dy
// One thread per dx element: it adds dy of every window it wins, in the CPU's
// (oh, ow) order. It wins a window when no element before it (row-major within
// the window) is a winner and it is one itself.
template <typename T>
__global__ void max_pool_backward_kernel(PoolGeom g, const T* dy, const T* x, const T* y, T* dx, int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    const T* in = x + p * g.H * g.W;
    const T* ym = y + p * g.OH * g.OW;
    const T* gy = dy + p * g.OH * g.OW;
    T self = in[ih * g.W + iw];
    int64_t oh0, oh1, ow0, ow1;
    windows_containing(ih, g.kh, g.sh, g.ph, g.OH, &oh0, &oh1);
    windows_containing(iw, g.kw, g.sw, g.pw, g.OW, &ow0, &ow1);
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      int64_t h0 = imax(oh * g.sh - g.ph, 0);
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        int64_t w0 = imax(ow * g.sw - g.pw, 0), w1 = imin(ow * g.sw - g.pw + g.kw, g.W);
        T yv = ym[oh * g.OW + ow];
        if (!is_winner(self, yv)) continue;
        bool earlier = false;  // a winner before (ih, iw) in this window
        for (int64_t h = h0; h <= ih && !earlier; ++h) {
          int64_t w_end = h < ih ? w1 : iw;
          for (int64_t w = w0; w < w_end; ++w)
            if (is_winner(in[h * g.W + w], yv)) {
              earlier = true;
              break;
            }
        }
        if (!earlier) acc += gy[oh * g.OW + ow];
      }
    }
    dx[i] = acc;
  }
}

// Window [h0, h1) x [w0, w1) clipped to the input, and the divisor PyTorch uses
// (the CPU's avg_window).
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
__device__ __forceinline__ AvgWindow avg_window(const PoolGeom& g, int64_t oh, int64_t ow, bool count_include_pad) {
  int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t he = imin(hs + g.kh, g.H + g.ph), we = imin(ws + g.kw, g.W + g.pw);
  int64_t padded = (he - hs) * (we - ws);
  AvgWindow w{imax(hs, 0), imin(he, g.H), imax(ws, 0), imin(we, g.W), 0};
  w.divisor = count_include_pad ? padded : (w.h1 - w.h0) * (w.w1 - w.w0);
  if (w.divisor <= 0) w.divisor = 1;
  return w;
}

// y = sum(window) / divisor; one thread per y element, summed in the CPU's order.
template <typename T> __global__ void avg_pool_kernel(PoolGeom g, bool include_pad, const T* x, T* y, int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    int64_t ow = i % g.OW, t = i / g.OW, oh = t % g.OH, p = t / g.OH;
    const T* in = x + p * g.H * g.W;
    AvgWindow w = avg_window(g, oh, ow, include_pad);
    T s = 0;
    for (int64_t ih = w.h0; ih < w.h1; ++ih)
      for (int64_t iw = w.w0; iw < w.w1; ++iw) s += in[ih * g.W + iw];
    y[i] = s / static_cast<T>(w.divisor);
  }
}

// forward: y = sum(window) / divisor  =>  dx[window] += dy / divisor
// One thread per dx element, over the windows containing it in (oh, ow) order.
template <typename T> __global__ void avg_pool_backward_kernel(PoolGeom g, bool include_pad, const T* dy, T* dx,
                                                               int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    const T* gy = dy + p * g.OH * g.OW;
    int64_t oh0, oh1, ow0, ow1;
    windows_containing(ih, g.kh, g.sh, g.ph, g.OH, &oh0, &oh1);
    windows_containing(iw, g.kw, g.sw, g.pw, g.OW, &ow0, &ow1);
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        AvgWindow w = avg_window(g, oh, ow, include_pad);
        acc += gy[oh * g.OW + ow] / static_cast<T>(w.divisor);
      }
    dx[i] = acc;
  }
}

// max_pool2d: inputs [x (N, C, H, W)], outputs [y (N, C, OH, OW)], int_attrs [kh, kw, sh, sw, ph, pw]
trt_status max_pool2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "max_pool2d", 1, 1, 6); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->inputs[0], a->outputs[0]);
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                          max_pool_kernel<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                              g, data<const scalar_t>(a->inputs[0]), data<scalar_t>(a->outputs[0]), n));
  return check_launch(a, "max_pool2d");
}

// max_pool2d_backward: inputs [dy (N, C, OH, OW), x (N, C, H, W), y (N, C, OH, OW)],
// outputs [dx (N, C, H, W)], int_attrs as forward
trt_status max_pool2d_backward_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "max_pool2d_backward", 3, 1, 6); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->outputs[0], a->inputs[0]);
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                          max_pool_backward_kernel<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                              g, data<const scalar_t>(a->inputs[0]), data<const scalar_t>(a->inputs[1]),
                              data<const scalar_t>(a->inputs[2]), data<scalar_t>(a->outputs[0]), n));
  return check_launch(a, "max_pool2d_backward");
}

// avg_pool2d: inputs [x], outputs [y], int_attrs [kh, kw, sh, sw, ph, pw, count_include_pad]
trt_status avg_pool2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "avg_pool2d", 1, 1, 7); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->inputs[0], a->outputs[0]);
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                          avg_pool_kernel<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                              g, a->int_attrs[6] != 0, data<const scalar_t>(a->inputs[0]),
                              data<scalar_t>(a->outputs[0]), n));
  return check_launch(a, "avg_pool2d");
}

// avg_pool2d_backward: inputs [dy (N, C, OH, OW)], outputs [dx (N, C, H, W)], int_attrs as forward
trt_status avg_pool2d_backward_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "avg_pool2d_backward", 1, 1, 7); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->outputs[0], a->inputs[0]);
  int64_t n = numel(a->outputs[0]);
  if (n == 0) return TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                          avg_pool_backward_kernel<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                              g, a->int_attrs[6] != 0, data<const scalar_t>(a->inputs[0]),
                              data<scalar_t>(a->outputs[0]), n));
  return check_launch(a, "avg_pool2d_backward");
}

}  // namespace

bool register_pool(const trt_host_api* host) {
  return add_kernel(host, "max_pool2d", max_pool2d_kernel) &&
         add_kernel(host, "max_pool2d_backward", max_pool2d_backward_kernel) &&
         add_kernel(host, "avg_pool2d", avg_pool2d_kernel) &&
         add_kernel(host, "avg_pool2d_backward", avg_pool2d_backward_kernel);
}

}  // namespace trt_cuda
