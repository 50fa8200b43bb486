// Pooling kernels over NCHW planes: max_pool2d (the backward finds the arg-max
// again from x and y) and avg_pool2d (count_include_pad as in PyTorch), each with
// its backward. Plain loops, one (n, c) plane per task, split over `threads`:
// pooling is memory-bound, so there is no library call to make here.
// Max pooling also takes channel-blocked operands (channel_blocked.h) from a
// compiled plan: each (n, channel block) tile becomes eight planes in cache.
// Deliberately not here: shape checks (runtime/ops/conv_pool.cpp), ceil_mode.
#include <cmath>
#include <cstring>
#include <vector>

#include "channel_blocked.h"

#include "gemm.h"
#include "kernel_util.h"
#include "kernels.h"
#include "simd_loops.h"

namespace trt_cpu {
namespace {

using trt_plugin_util::PoolGeom;

PoolGeom geom(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& y) {
  return trt_plugin_util::pool_geometry(a, x, y);
}

trt_status check(const trt_kernel_args* a, const char* op, int n_in, int n_out, int n_attrs) {
  if (!any_channel_blocked(a)) return trt_plugin_util::check_pool_args(a, op, n_in, n_out, n_attrs);
  if (a->n_inputs != n_in || a->n_outputs != n_out || a->n_int_attrs < n_attrs)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: wrong number of inputs, outputs or int_attrs (see docs/ops.md)", op);
  auto plain_or_blocked = [](const trt_tensor_view& v) {
    return is_channel_blocked(v) || (v.ndim == 4 && is_contiguous(v) && v.sizes[1] % kChannelBlock == 0);
  };
  for (int i = 0; i < n_in; ++i)
    if (!plain_or_blocked(a->inputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: with a channel-blocked operand, every operand has C %% 8 == 0", op);
  for (int i = 0; i < n_out; ++i)
    if (!plain_or_blocked(a->outputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: with a channel-blocked operand, every operand has C %% 8 == 0", op);
  return TRT_OK;
}

// Runs body(in, out) on each (n, channel block) of a call with a
// channel-blocked operand, every operand either as eight planes (8, h, w)
// (as_tiles false) or as one tile (h, w, 8). Unit u is at element u * 8 * h * w
// in both layouts, so an operand already in the wanted form is passed in
// place; the others go through this thread's buffers (outputs are copied
// into their own layout afterwards).
template <typename T, typename Body> void over_channel_blocks(const trt_kernel_args* a, bool as_tiles, Body&& body) {
  int64_t nchw[4];
  logical_nchw(a->inputs[0], nchw);
  int64_t units = nchw[0] * (nchw[1] / kChannelBlock);
  auto converted = [&](const trt_tensor_view& v) { return is_channel_blocked(v) != as_tiles; };
  parallel_for(units, a->num_threads, [&](int64_t begin, int64_t end) {
    std::vector<std::vector<T>> buffers(static_cast<size_t>(a->n_inputs + a->n_outputs));
    std::vector<const T*> in(static_cast<size_t>(a->n_inputs));
    std::vector<T*> out(static_cast<size_t>(a->n_outputs));
    auto hw = [](const trt_tensor_view& v) { return v.sizes[2] * v.sizes[3]; };
    auto buffer = [&](size_t k, int64_t n) {
      buffers[k].resize(static_cast<size_t>(kChannelBlock * n));
      return buffers[k].data();
    };
    for (int64_t u = begin; u < end; ++u) {
      for (int i = 0; i < a->n_inputs; ++i) {
        const trt_tensor_view& v = a->inputs[i];
        in[i] = data<T>(v) + u * kChannelBlock * hw(v);
        if (!converted(v)) continue;
        T* buf = buffer(static_cast<size_t>(i), hw(v));
        if (as_tiles) simd::planes_to_tile(in[i], buf, hw(v));
        else simd::tile_to_planes(in[i], buf, hw(v));
        in[i] = buf;
      }
      for (int i = 0; i < a->n_outputs; ++i) {
        const trt_tensor_view& v = a->outputs[i];
        out[i] = converted(v) ? buffer(static_cast<size_t>(a->n_inputs + i), hw(v))
                              : data<T>(v) + u * kChannelBlock * hw(v);
      }
      body(in.data(), out.data());
      for (int i = 0; i < a->n_outputs; ++i) {
        const trt_tensor_view& v = a->outputs[i];
        if (!converted(v)) continue;
        T* dst = data<T>(v) + u * kChannelBlock * hw(v);
        if (as_tiles) simd::tile_to_planes(out[i], dst, hw(v));
        else simd::planes_to_tile(out[i], dst, hw(v));
      }
    }
  }, 1);
}

// Whether the call's channel-blocked operands hold more elements than its NCHW
// ones: then the tile kernels run, converting the NCHW operands, else the
// plane kernels, converting the blocked ones.
bool mostly_blocked(const trt_kernel_args* a) {
  int64_t blocked = 0, plain = 0;
  for (int i = 0; i < a->n_inputs; ++i) (is_channel_blocked(a->inputs[i]) ? blocked : plain) += numel(a->inputs[i]);
  for (int i = 0; i < a->n_outputs; ++i) (is_channel_blocked(a->outputs[i]) ? blocked : plain) += numel(a->outputs[i]);
  return blocked > plain;
}

// Max pooling keeps no indices: the backward finds each window's arg-max again
// from x and y (as cuDNN's pooling backward does). Storing int64 indices cost
// more than the pooling itself on a memory-bound CPU.
// A window's winner: the first element that is strictly greater than all before
// it, or the first NaN (NaN wins, as in PyTorch).
template <typename T> bool replaces(T candidate, T best) {
  return candidate > best || (candidate != candidate && best == best);
}
template <typename T> bool is_winner(T v, T y) { return v == y || (v != v && y != y); }

bool is_pool2x2(const PoolGeom& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
}

// Any window of the plane; the reference path.
template <typename T> void max_pool_plane(const PoolGeom& g, const T* in, T* out) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t h0 = std::max<int64_t>(oh * g.sh - g.ph, 0), h1 = std::min(oh * g.sh - g.ph + g.kh, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t w0 = std::max<int64_t>(ow * g.sw - g.pw, 0), w1 = std::min(ow * g.sw - g.pw + g.kw, g.W);
      T m = in[h0 * g.W + w0];
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw)
          if (replaces(in[ih * g.W + iw], m)) m = in[ih * g.W + iw];
      out[oh * g.OW + ow] = m;
    }
  }
}

// y: (planes, OH, OW) = max over each window of x: (planes, H, W), planes [begin, end)
template <typename T> void max_pool_planes(const PoolGeom& g, const T* x, T* y, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const T* in = x + p * g.H * g.W;
    T* out = y + p * g.OH * g.OW;
    bool exact = false;
    if (is_pool2x2(g)) {
      exact = true;
      for (int64_t oh = 0; oh < g.OH && exact; ++oh)
        exact = !simd::max_pool_2x2_row(out + oh * g.OW, in + 2 * oh * g.W, in + (2 * oh + 1) * g.W, g.OW);
    }
    if (!exact) max_pool_plane(g, in, out);  // any window, or a plane holding a NaN
  }
}

template <typename T> void max_pool(const PoolGeom& g, const T* x, T* y, int threads) {
  parallel_for(g.planes, threads, [&](int64_t begin, int64_t end) { max_pool_planes(g, x, y, begin, end); }, 8);
}

// forward: y = x[winner of window]  =>  dx[winner] += dy
// relu_mask (max_pool2d_backward_relu): x = relu(c), and the gradient then goes
// through relu's backward too; x[p] > 0 iff c[p] > 0, so a window's gradient
// reaches its winner only when the winning value is > 0.
// Planes [begin, end).
template <typename T, bool relu_mask = false>
void max_pool_backward_planes(const PoolGeom& g, const T* dy, const T* x, const T* y, T* dx, int64_t begin,
                            int64_t end) {
  bool tiled = is_pool2x2(g) && g.H == 2 * g.OH && g.W == 2 * g.OW;  // windows cover the plane exactly
  for (int64_t p = begin; p < end; ++p) {
    const T* in = x + p * g.H * g.W;
    const T* ym = y + p * g.OH * g.OW;
    const T* gy = dy + p * g.OH * g.OW;
    T* d = dx + p * g.H * g.W;
    if (tiled) {  // every dx element is written once: no zeroing pass, selects instead of branches
      for (int64_t oh = 0; oh < g.OH; ++oh)
        simd::max_pool_2x2_backward_row(d + 2 * oh * g.W, d + (2 * oh + 1) * g.W, in + 2 * oh * g.W,
                                        in + (2 * oh + 1) * g.W, ym + oh * g.OW, gy + oh * g.OW, g.OW, relu_mask);
      continue;
    }
    std::memset(d, 0, sizeof(T) * g.H * g.W);
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      int64_t h0 = std::max<int64_t>(oh * g.sh - g.ph, 0), h1 = std::min(oh * g.sh - g.ph + g.kh, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        int64_t w0 = std::max<int64_t>(ow * g.sw - g.pw, 0), w1 = std::min(ow * g.sw - g.pw + g.kw, g.W);
        int64_t k = oh * g.OW + ow, winner = -1;
        for (int64_t ih = h0; ih < h1 && winner < 0; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw)
            if (is_winner(in[ih * g.W + iw], ym[k])) {
              winner = ih * g.W + iw;
              break;
            }
        if (winner >= 0 && (!relu_mask || in[winner] > T(0))) d[winner] += gy[k];
      }
    }
  }
}

template <typename T, bool relu_mask = false>
void max_pool_backward(const PoolGeom& g, const T* dy, const T* x, const T* y, T* dx, int threads) {
  parallel_for(g.planes, threads, [&](int64_t begin, int64_t end) {
    max_pool_backward_planes<T, relu_mask>(g, dy, x, y, dx, begin, end);
  }, 8);
}

// A pooling call with a channel-blocked operand, one (n, channel block) at a time.
PoolGeom block_geom(PoolGeom g) {
  g.planes = kChannelBlock;
  return g;
}
// Exactly tiled 2x2 windows have tile kernels (simd::max_pool_2x2_tile).
bool tiles_suit(const trt_kernel_args* a, const PoolGeom& g) {
  return is_pool2x2(g) && g.H == 2 * g.OH && g.W == 2 * g.OW && mostly_blocked(a);
}
template <typename T>
void max_pool_blocked(const trt_kernel_args* a, const PoolGeom& g) {
  if (tiles_suit(a, g)) {
    over_channel_blocks<T>(
        a, true, [&](const T* const* in, T* const* out) { simd::max_pool_2x2_tile(out[0], in[0], g.OH, g.OW); });
    return;
  }
  PoolGeom g8 = block_geom(g);
  over_channel_blocks<T>(a, false,
                         [&](const T* const* in, T* const* out) { max_pool_planes(g8, in[0], out[0], 0, g8.planes); });
}
template <typename T, bool relu_mask>
void max_pool_backward_blocked(const trt_kernel_args* a, const PoolGeom& g) {
  if (tiles_suit(a, g)) {
    over_channel_blocks<T>(a, true, [&](const T* const* in, T* const* out) {
      simd::max_pool_2x2_backward_tile(out[0], in[1], in[2], in[0], g.OH, g.OW, relu_mask);
    });
    return;
  }
  PoolGeom g8 = block_geom(g);
  over_channel_blocks<T>(a, false, [&](const T* const* in, T* const* out) {
    max_pool_backward_planes<T, relu_mask>(g8, in[0], in[1], in[2], out[0], 0, g8.planes);
  });
}

// Window [h0, h1) x [w0, w1) clipped to the input, and the divisor PyTorch uses.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};
AvgWindow avg_window(const PoolGeom& g, int64_t oh, int64_t ow, bool count_include_pad) {
  int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t he = std::min(hs + g.kh, g.H + g.ph), we = std::min(ws + g.kw, g.W + g.pw);
  int64_t padded = (he - hs) * (we - ws);
  AvgWindow w{std::max<int64_t>(hs, 0), std::min(he, g.H), std::max<int64_t>(ws, 0), std::min(we, g.W), 0};
  w.divisor = count_include_pad ? padded : (w.h1 - w.h0) * (w.w1 - w.w0);
  if (w.divisor <= 0) w.divisor = 1;
  return w;
}

template <typename T> void avg_pool(const PoolGeom& g, bool include_pad, const T* x, T* y, int threads) {
  parallel_for(g.planes, threads, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* in = x + p * g.H * g.W;
      T* out = y + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          AvgWindow w = avg_window(g, oh, ow, include_pad);
          T s = 0;
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) s += in[ih * g.W + iw];
          out[oh * g.OW + ow] = s / static_cast<T>(w.divisor);
        }
    }
  }, 8);
}

// forward: y = sum(window) / divisor  =>  dx[window] += dy / divisor (dx zeroed here)
template <typename T> void avg_pool_backward(const PoolGeom& g, bool include_pad, const T* dy, T* dx, int threads) {
  parallel_for(g.planes, threads, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      T* d = dx + p * g.H * g.W;
      std::memset(d, 0, sizeof(T) * g.H * g.W);
      const T* gy = dy + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          AvgWindow w = avg_window(g, oh, ow, include_pad);
          T v = gy[oh * g.OW + ow] / static_cast<T>(w.divisor);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) d[ih * g.W + iw] += v;
        }
    }
  }, 8);
}

// max_pool2d: inputs [x (N, C, H, W)], outputs [y (N, C, OH, OW)], int_attrs [kh, kw, sh, sw, ph, pw]
trt_status max_pool2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "max_pool2d", 1, 1, 6); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->inputs[0], a->outputs[0]);
  if (any_channel_blocked(a)) {
    TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, max_pool_blocked<scalar_t>(a, g));
    return TRT_OK;
  }
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                         max_pool<scalar_t>(g, data<scalar_t>(a->inputs[0]), data<scalar_t>(a->outputs[0]),
                                            a->num_threads));
  return TRT_OK;
}

// max_pool2d_backward: inputs [dy (N, C, OH, OW), x (N, C, H, W), y (N, C, OH, OW)],
// outputs [dx (N, C, H, W)], int_attrs as forward
trt_status max_pool2d_backward_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "max_pool2d_backward", 3, 1, 6); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->outputs[0], a->inputs[0]);
  if (any_channel_blocked(a)) {
    TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, (max_pool_backward_blocked<scalar_t, false>(a, g)));
    return TRT_OK;
  }
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                         max_pool_backward<scalar_t>(g, data<scalar_t>(a->inputs[0]), data<scalar_t>(a->inputs[1]),
                                                     data<scalar_t>(a->inputs[2]), data<scalar_t>(a->outputs[0]),
                                                     a->num_threads));
  return TRT_OK;
}

// max_pool2d_backward_relu: as max_pool2d_backward, where x = relu(c) for some c:
// dx = relu_backward(max_pool2d_backward(dy, x, y), c) in one pass.
trt_status max_pool2d_backward_relu_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "max_pool2d_backward_relu", 3, 1, 6); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->outputs[0], a->inputs[0]);
  if (any_channel_blocked(a)) {
    TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, (max_pool_backward_blocked<scalar_t, true>(a, g)));
    return TRT_OK;
  }
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                         max_pool_backward<scalar_t, /*relu_mask=*/true>(
                             g, data<scalar_t>(a->inputs[0]), data<scalar_t>(a->inputs[1]),
                             data<scalar_t>(a->inputs[2]), data<scalar_t>(a->outputs[0]), a->num_threads));
  return TRT_OK;
}

// avg_pool2d: inputs [x], outputs [y], int_attrs [kh, kw, sh, sw, ph, pw, count_include_pad]
trt_status avg_pool2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "avg_pool2d", 1, 1, 7); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->inputs[0], a->outputs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                         avg_pool<scalar_t>(g, a->int_attrs[6] != 0, data<scalar_t>(a->inputs[0]),
                                            data<scalar_t>(a->outputs[0]), a->num_threads));
  return TRT_OK;
}

// avg_pool2d_backward: inputs [dy (N, C, OH, OW)], outputs [dx (N, C, H, W)], int_attrs as forward
trt_status avg_pool2d_backward_kernel(const trt_kernel_args* a) {
  if (trt_status s = check(a, "avg_pool2d_backward", 1, 1, 7); s != TRT_OK) return s;
  PoolGeom g = geom(a, a->outputs[0], a->inputs[0]);
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype,
                         avg_pool_backward<scalar_t>(g, a->int_attrs[6] != 0, data<scalar_t>(a->inputs[0]),
                                                     data<scalar_t>(a->outputs[0]), a->num_threads));
  return TRT_OK;
}

}  // namespace

trt_status run_max_pool2d(const trt_kernel_args* a) { return max_pool2d_kernel(a); }
trt_status run_max_pool2d_backward_relu(const trt_kernel_args* a) { return max_pool2d_backward_relu_kernel(a); }

template <typename T>
void max_pool_backward_relu_plane(const trt_plugin_util::PoolGeom& g, const T* dy, const T* x, const T* y, T* dx) {
  max_pool_backward_planes<T, /*relu_mask=*/true>(g, dy, x, y, dx, 0, 1);
}
template void max_pool_backward_relu_plane<float>(const trt_plugin_util::PoolGeom&, const float*, const float*,
                                                  const float*, float*);
template void max_pool_backward_relu_plane<double>(const trt_plugin_util::PoolGeom&, const double*, const double*,
                                                   const double*, double*);

bool register_pool2d(const trt_host_api* host) {
  return add_kernel(host, "max_pool2d", max_pool2d_kernel) &&
         add_kernel(host, "max_pool2d_backward", max_pool2d_backward_kernel) &&
         add_kernel(host, "max_pool2d_backward_relu", max_pool2d_backward_relu_kernel) &&
         add_kernel(host, "avg_pool2d", avg_pool2d_kernel) &&
         add_kernel(host, "avg_pool2d_backward", avg_pool2d_backward_kernel);
}

}  // namespace trt_cpu
