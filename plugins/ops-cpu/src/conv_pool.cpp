// Convolution kernels. float32 runs on oneDNN 2.6 (conv_dnnl.cpp: direct JIT
// kernels on blocked layouts) when the plugin is built with it: on the seed
// CNN's layers at batch 64, 1 thread, it measured conv2 (32->64, 14x14)
// forward 13.1 ms vs 31.1 ms and backward 26.3 ms vs 64.1 ms for im2col +
// OpenBLAS, and the whole training step 138 ms vs 191 ms (docs/ops.md).
// One input channel per group (first layers, depthwise) takes the direct
// kernels of conv_direct.cpp instead. float32 weight gradients with one group
// and channels in multiples of 8 take the AVX2 kernel of
// conv_weight_grad_blocked.cpp on CPUs that have AVX2 and FMA.
// Here is the fallback and the float64 path (oneDNN has no f64 conv): im2col +
// one OpenBLAS GEMM per group over the whole minibatch (columns are
// (C*kH*kW, N*OH*OW), so the GEMMs are large), backward as GEMMs against the
// same column layout + col2im. TRAINRT_CPU_CONV=im2col forces this path.
// Activations may come channel-blocked (channel_blocked.h) from a compiled
// plan: oneDNN takes them as they are, the other paths an NCHW copy.
// Pooling kernels live in pool2d.cpp.
// Deliberately not here: shape checks (runtime/ops/conv_pool.cpp), naive loops.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "channel_blocked.h"
#include "conv_direct.h"
#include "conv_direct_tiles.h"
#include "conv_dnnl.h"
#include "conv_geom.h"
#include "conv_weight_grad_blocked.h"
#include "gemm.h"
#include "kernel_util.h"
#include "kernels.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
bool register_pool2d(const trt_host_api* host);  // pool2d.cpp

ConvGeom conv_geometry(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& w,
                       const trt_tensor_view& y) {
  const int64_t* at = a->int_attrs;
  int64_t xs[4], ys[4];
  logical_nchw(x, xs);
  logical_nchw(y, ys);
  return ConvGeom{xs[0], xs[1], xs[2], xs[3], w.sizes[0], w.sizes[2], w.sizes[3], ys[2],
                  ys[3], at[0], at[1], at[2], at[3], at[4], at[5], at[6]};
}

namespace {

enum Slot { kCols = 2, kRows = 3 };  // scratch slots (0, 1: matmul packing)

// The kernels themselves, for run_with_plain_layout.
trt_status conv2d_kernel(const trt_kernel_args* a);
trt_status conv2d_relu_kernel(const trt_kernel_args* a);
trt_status conv2d_backward_input_kernel(const trt_kernel_args* a);
trt_status conv2d_backward_weight_kernel(const trt_kernel_args* a);
trt_status conv2d_backward_weight_bias_kernel(const trt_kernel_args* a);

// cols[(c, i, j), (n, oh, ow)] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside).
template <typename T> void im2col(const ConvGeom& g, const T* x, T* cols, int threads) {
  int64_t kk = g.kh * g.kw, ohw = g.ohw(), ncols = g.cols();
  parallel_for(g.ckk() * g.N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t row = t / g.N, n = t % g.N;
      int64_t c = row / kk, i = (row % kk) / g.kw, j = row % g.kw;
      const T* plane = x + (n * g.C + c) * g.H * g.W;
      T* out = cols + row * ncols + n * ohw;
      int64_t off = j * g.dw - g.pw, ow0, ow1;
      g.valid_columns(j, ow0, ow1);
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        int64_t ih = oh * g.sh - g.ph + i * g.dh;
        T* o = out + oh * g.OW;
        if (ih < 0 || ih >= g.H) {
          std::memset(o, 0, sizeof(T) * g.OW);
          continue;
        }
        const T* src = plane + ih * g.W + off;
        for (int64_t ow = 0; ow < ow0; ++ow) o[ow] = 0;
        if (g.sw == 1) std::memcpy(o + ow0, src + ow0, sizeof(T) * (ow1 - ow0));
        else
          for (int64_t ow = ow0; ow < ow1; ++ow) o[ow] = src[ow * g.sw];
        for (int64_t ow = ow1; ow < g.OW; ++ow) o[ow] = 0;
      }
    }
  }, 4);
}

// dx[n, c, ih, iw] = sum of the column entries im2col took from it (dx zeroed here).
template <typename T> void col2im(const ConvGeom& g, const T* cols, T* dx, int threads) {
  int64_t kk = g.kh * g.kw, ohw = g.ohw(), ncols = g.cols();
  parallel_for(g.C * g.N, threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t c = t / g.N, n = t % g.N;
      T* plane = dx + (n * g.C + c) * g.H * g.W;
      std::memset(plane, 0, sizeof(T) * g.H * g.W);
      for (int64_t r = 0; r < kk; ++r) {
        int64_t i = r / g.kw, j = r % g.kw, row = c * kk + r;
        const T* in = cols + row * ncols + n * ohw;
        int64_t off = j * g.dw - g.pw, ow0, ow1;
        g.valid_columns(j, ow0, ow1);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = plane + ih * g.W + off;
          const T* src = in + oh * g.OW;
          if (g.sw == 1)
            for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] += src[ow];
          else
            for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow * g.sw] += src[ow];
        }
      }
    }
  }, 4);
}

// rows (O, N*OHW) <-> y (N, O, OHW): the GEMMs work channel-major over the whole batch.
template <typename T>
void rows_to_nchw(const ConvGeom& g, const T* rows, const T* bias, T* y, int threads, bool relu = false) {
  int64_t ohw = g.ohw(), ncols = g.cols();
  parallel_for(g.N * g.O, threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t n = t / g.O, o = t % g.O;
      const T* src = rows + o * ncols + n * ohw;
      T* dst = y + t * ohw;
      if (bias) {
        T b = bias[o];
        for (int64_t k = 0; k < ohw; ++k) dst[k] = src[k] + b;
      } else {
        std::memcpy(dst, src, sizeof(T) * ohw);
      }
      if (relu)
        for (int64_t k = 0; k < ohw; ++k) dst[k] = trainrt::math::relu(dst[k]);
    }
  }, 16);
}

template <typename T> void nchw_to_rows(const ConvGeom& g, const T* y, T* rows, int threads) {
  int64_t ohw = g.ohw(), ncols = g.cols();
  parallel_for(g.N * g.O, threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t n = t / g.O, o = t % g.O;
      std::memcpy(rows + o * ncols + n * ohw, y + t * ohw, sizeof(T) * ohw);
    }
  }, 16);
}

// TRAINRT_CPU_CONV=im2col forces the im2col path (conv_geom.h).
bool forced_im2col() { return std::strcmp(conv_path_override(), "im2col") == 0; }
// One input channel per group goes to the direct kernels (conv_direct.h).
bool use_direct(const ConvGeom& g) { return direct_conv_suits(g) && !forced_im2col(); }
// Other float32 convolutions go to oneDNN when the plugin has it.
template <typename T> bool use_dnnl() { return std::is_same_v<T, float> && !forced_im2col(); }

// oneDNN's backward-weights kernels work on channel blocks of 8 (AVX2) or 16:
// with fewer input channels per group (the first layer of an image model,
// C = 1 or 3) it pads the input to a full block and reorders an NCHW dy the
// size of the layer's output. The GEMM path is faster there: for the seed
// CNN's first layer (1 -> 32, 28x28, batch 64, 1 thread) 3.0 ms against 6.0 ms.
bool dnnl_suits_backward_weights(const ConvGeom& g) { return g.C / g.G >= 8; }

// x and y: the call's activation operands (x or dx, y or dy), NCHW or channel-blocked.
DnnlConvShape dnnl_shape(const ConvGeom& g, const trt_tensor_view& x, const trt_tensor_view& y) {
  DnnlConvShape s{g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.OH, g.OW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G};
  s.x_blocked = is_channel_blocked(x);
  s.y_blocked = is_channel_blocked(y);
  return s;
}

bool contiguous_args(const trt_kernel_args* a) {
  for (int i = 0; i < a->n_inputs; ++i)
    if (!is_contiguous(a->inputs[i])) return false;
  for (int i = 0; i < a->n_outputs; ++i)
    if (!is_contiguous(a->outputs[i])) return false;
  return true;
}

trt_status check_args(const trt_kernel_args* a, const char* op, int min_in, int max_in) {
  if (a->n_inputs < min_in || a->n_inputs > max_in || a->n_outputs != 1 || a->n_int_attrs < 7)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: wrong number of inputs, outputs or int_attrs (see docs/ops.md)", op);
  if (!contiguous_args(a)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: tensors must be contiguous", op);
  return TRT_OK;
}

// conv2d: y = W_g x cols_g per group, bias added while reordering to NCHW;
// relu (conv2d_relu): y = relu(y), by oneDNN's post-op or in that same reorder.
template <typename T> trt_status conv2d_typed(const trt_kernel_args* a, bool relu = false) {
  const trt_tensor_view &x = a->inputs[0], &w = a->inputs[1], &y = a->outputs[0];
  ConvGeom g = conv_geometry(a, x, w, y);
  const T* bias = a->n_inputs > 2 ? data<T>(a->inputs[2]) : nullptr;
  int threads = a->num_threads;
  auto plain = [&] { return run_with_plain_layout(a, relu ? conv2d_relu_kernel : conv2d_kernel); };
  if (use_direct(g)) {
    if constexpr (std::is_same_v<T, float>)
      if (single_channel_tiles_suit(g)) {  // y in either layout, natively (x has one channel: NCHW)
        single_channel_forward(g, data<T>(x), data<T>(w), bias, data<T>(y), is_channel_blocked(y), relu, threads);
        return TRT_OK;
      }
    if (any_channel_blocked(a)) return plain();
    direct_conv_forward(g, data<T>(x), data<T>(w), bias, data<T>(y), relu, threads);
    return TRT_OK;
  }
  if constexpr (std::is_same_v<T, float>)
    if (use_dnnl<T>() &&
        (relu ? dnnl_conv_forward_relu(dnnl_shape(g, x, y), data<T>(x), data<T>(w), bias, data<T>(y), threads)
              : dnnl_conv_forward(dnnl_shape(g, x, y), data<T>(x), data<T>(w), bias, data<T>(y), threads)))
      return TRT_OK;
  if (any_channel_blocked(a)) return plain();
  set_blas_threads(threads);
  int64_t og = g.O / g.G, ckk_g = g.ckk() / g.G, ncols = g.cols();
  T* cols = scratch<T>(kCols, static_cast<size_t>(g.ckk() * ncols));  // (C*kH*kW, N*OH*OW)
  T* rows = scratch<T>(kRows, static_cast<size_t>(g.O * ncols));      // (O, N*OH*OW)
  im2col(g, data<T>(x), cols, threads);
  for (int64_t gi = 0; gi < g.G; ++gi)
    gemm(false, false, og, ncols, ckk_g, T(1), data<T>(w) + gi * og * ckk_g, ckk_g, cols + gi * ckk_g * ncols, ncols,
         T(0), rows + gi * og * ncols, ncols);
  rows_to_nchw(g, rows, bias, data<T>(y), threads, relu);
  return TRT_OK;
}

// forward: y_g = W_g x cols_g  =>  dcols_g = W_g^T x dy_g, then dx = col2im(dcols)
template <typename T> trt_status conv2d_backward_input_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &w = a->inputs[1], &dx = a->outputs[0];
  ConvGeom g = conv_geometry(a, dx, w, dy);
  int threads = a->num_threads;
  if constexpr (std::is_same_v<T, float>)
    if (use_dnnl<T>() && dnnl_conv_backward_data(dnnl_shape(g, dx, dy), data<T>(dy), data<T>(w), data<T>(dx), threads))
      return TRT_OK;
  if (any_channel_blocked(a)) return run_with_plain_layout(a, conv2d_backward_input_kernel);
  set_blas_threads(threads);
  int64_t og = g.O / g.G, ckk_g = g.ckk() / g.G, ncols = g.cols();
  T* rows = scratch<T>(kRows, static_cast<size_t>(g.O * ncols));      // dy as (O, N*OH*OW)
  T* cols = scratch<T>(kCols, static_cast<size_t>(g.ckk() * ncols));  // dcols (C*kH*kW, N*OH*OW)
  nchw_to_rows(g, data<T>(dy), rows, threads);
  for (int64_t gi = 0; gi < g.G; ++gi)
    gemm(true, false, ckk_g, ncols, og, T(1), data<T>(w) + gi * og * ckk_g, ckk_g, rows + gi * og * ncols, ncols, T(0),
         cols + gi * ckk_g * ncols, ncols);
  col2im(g, cols, data<T>(dx), threads);
  return TRT_OK;
}

// forward: y_g = W_g x cols_g  =>  dW_g = dy_g x cols_g^T (cols recomputed from x)
template <typename T> trt_status conv2d_backward_weight_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &x = a->inputs[1], &dw = a->outputs[0];
  ConvGeom g = conv_geometry(a, x, dw, dy);
  int threads = a->num_threads;
  if (use_direct(g)) {
    if (any_channel_blocked(a)) return run_with_plain_layout(a, conv2d_backward_weight_kernel);
    direct_conv_backward_weights<T>(g, data<T>(dy), data<T>(x), data<T>(dw), nullptr, threads);
    return TRT_OK;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (weight_grad_on_blocks_suits(g)) return weight_grad_on_blocks(a);  // before oneDNN: faster
    if (use_dnnl<T>() && dnnl_suits_backward_weights(g) &&
        dnnl_conv_backward_weights(dnnl_shape(g, x, dy), data<T>(dy), data<T>(x), data<T>(dw), threads))
      return TRT_OK;
  }
  if (any_channel_blocked(a)) return run_with_plain_layout(a, conv2d_backward_weight_kernel);
  set_blas_threads(threads);
  int64_t og = g.O / g.G, ckk_g = g.ckk() / g.G, ncols = g.cols();
  T* rows = scratch<T>(kRows, static_cast<size_t>(g.O * ncols));
  T* cols = scratch<T>(kCols, static_cast<size_t>(g.ckk() * ncols));
  nchw_to_rows(g, data<T>(dy), rows, threads);
  im2col(g, data<T>(x), cols, threads);
  for (int64_t gi = 0; gi < g.G; ++gi)
    gemm(false, true, og, ckk_g, ncols, T(1), rows + gi * og * ncols, ncols, cols + gi * ckk_g * ncols, ncols, T(0),
         data<T>(dw) + gi * og * ckk_g, ckk_g);
  return TRT_OK;
}

// conv2d_backward_weight_bias: dw as conv2d_backward_weight, db = sum of dy over (N, OH, OW)
// (one oneDNN backward-weights primitive with diff_bias; otherwise the GEMM path and a
// sum accumulated in double per channel).
template <typename T> trt_status conv2d_backward_weight_bias_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &x = a->inputs[1], &dw = a->outputs[0], &db = a->outputs[1];
  ConvGeom g = conv_geometry(a, x, dw, dy);
  if (numel(dy) == 0) {  // no output positions: both gradients are zero
    std::fill_n(data<T>(dw), numel(dw), T(0));
    std::fill_n(data<T>(db), numel(db), T(0));
    return TRT_OK;
  }
  if (use_direct(g)) {
    if (any_channel_blocked(a)) return run_with_plain_layout(a, conv2d_backward_weight_bias_kernel);
    direct_conv_backward_weights<T>(g, data<T>(dy), data<T>(x), data<T>(dw), data<T>(db), a->num_threads);
    return TRT_OK;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (weight_grad_on_blocks_suits(g)) return weight_grad_on_blocks(a);  // before oneDNN: faster
    if (use_dnnl<T>() && dnnl_suits_backward_weights(g) &&
        dnnl_conv_backward_weights_bias(dnnl_shape(g, x, dy), data<T>(dy), data<T>(x), data<T>(dw), data<T>(db),
                                        a->num_threads))
      return TRT_OK;
  }
  if (any_channel_blocked(a)) return run_with_plain_layout(a, conv2d_backward_weight_bias_kernel);
  if (trt_status s = conv2d_backward_weight_typed<T>(a); s != TRT_OK) return s;
  const T* gy = data<T>(dy);
  T* out = data<T>(db);
  int64_t ohw = g.ohw();
  parallel_for(g.O, a->num_threads, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      double acc = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* src = gy + (n * g.O + o) * ohw;
        for (int64_t k = 0; k < ohw; ++k) acc += static_cast<double>(src[k]);
      }
      out[o] = static_cast<T>(acc);
    }
  }, 4);
  return TRT_OK;
}

// conv2d: inputs [x (N, C, H, W), w (O, C/G, kH, kW), (bias (O))], outputs [y (N, O, OH, OW)],
// int_attrs [sh, sw, ph, pw, dh, dw, groups]
trt_status conv2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d", 2, 3); s != TRT_OK) return s;
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_typed<scalar_t>(a));
  return TRT_OK;
}

// conv2d_backward_input: inputs [dy (N, O, OH, OW), w], outputs [dx (N, C, H, W)], int_attrs as conv2d
trt_status conv2d_backward_input_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d_backward_input", 2, 2); s != TRT_OK) return s;
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_backward_input_typed<scalar_t>(a));
  return TRT_OK;
}

// conv2d_backward_weight: inputs [dy (N, O, OH, OW), x (N, C, H, W)], outputs [dw (O, C/G, kH, kW)], int_attrs as conv2d
trt_status conv2d_backward_weight_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d_backward_weight", 2, 2); s != TRT_OK) return s;
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_backward_weight_typed<scalar_t>(a));
  return TRT_OK;
}

// conv2d_relu: as conv2d, y = relu(conv2d(x, w, b))
trt_status conv2d_relu_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d_relu", 2, 3); s != TRT_OK) return s;
  if (numel(a->outputs[0]) == 0) return TRT_OK;
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_typed<scalar_t>(a, /*relu=*/true));
  return TRT_OK;
}

// conv2d_backward_weight_bias: inputs [dy, x], outputs [dw (O, C/G, kH, kW), db (O)], int_attrs as conv2d
trt_status conv2d_backward_weight_bias_kernel(const trt_kernel_args* a) {
  if (a->n_inputs != 2 || a->n_outputs != 2 || a->n_int_attrs < 7)
    return fail(a, TRT_ERR_INVALID_ARGUMENT,
                "conv2d_backward_weight_bias: wrong number of inputs, outputs or int_attrs (see docs/ops.md)");
  if (!contiguous_args(a))
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "conv2d_backward_weight_bias: tensors must be contiguous");
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_backward_weight_bias_typed<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

trt_status run_conv2d_relu(const trt_kernel_args* a) { return conv2d_relu_kernel(a); }
trt_status run_conv2d_backward_weight_bias(const trt_kernel_args* a) { return conv2d_backward_weight_bias_kernel(a); }
bool conv_takes_direct_path(const ConvGeom& g) { return use_direct(g); }
const char* conv_path_override() {
  static const char* path = [] {
    const char* v = std::getenv("TRAINRT_CPU_CONV");
    return v ? v : "";
  }();
  return path;
}

bool register_conv_pool(const trt_host_api* host) {
  return add_kernel(host, "conv2d", conv2d_kernel) &&
         add_kernel(host, "conv2d_backward_input", conv2d_backward_input_kernel) &&
         add_kernel(host, "conv2d_backward_weight", conv2d_backward_weight_kernel) &&
         add_kernel(host, "conv2d_relu", conv2d_relu_kernel) &&
         add_kernel(host, "conv2d_backward_weight_bias", conv2d_backward_weight_bias_kernel) &&
         add_kernel(host, "conv2d_relu_max_pool2d", conv2d_relu_max_pool2d_kernel) &&
         add_kernel(host, "pool_relu_conv2d_backward_weight_bias", pool_relu_conv2d_backward_weight_bias_kernel) &&
         register_pool2d(host);
}

}  // namespace trt_cpu
