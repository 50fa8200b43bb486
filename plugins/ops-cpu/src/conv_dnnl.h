// float32 convolution through oneDNN 2.6 (direct JIT kernels on blocked layouts),
// used by conv_pool.cpp when the plugin is built with oneDNN (TRT_HAVE_DNNL).
// Each function returns false when oneDNN is absent or refuses the shape; the
// caller then runs the im2col + OpenBLAS path (which float64 always takes).
#pragma once
#include <cstdint>

#include "trainrt/plugin_abi.h"

namespace trt_cpu {

struct DnnlConvShape {
  int64_t N, C, H, W, O, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw, G;
  // The activations' layout: x (or dx) and y (or dy) NCHW, or channel-blocked
  // (N, C/8, H, W, 8) = oneDNN's nChw8c (channel_blocked.h), which its AVX2
  // kernels read and write without a reorder.
  bool x_blocked = false, y_blocked = false;
};

// y = conv(x, w) + b (b may be null); contiguous float32, x and y as the shape says, w OIHW.
bool dnnl_conv_forward(const DnnlConvShape& s, const float* x, const float* w, const float* b, float* y, int threads);
// y = relu(conv(x, w) + b): the same primitive with an eltwise_relu post-op on the accumulator.
bool dnnl_conv_forward_relu(const DnnlConvShape& s, const float* x, const float* w, const float* b, float* y,
                            int threads);
// dx = conv^T(dy, w)
bool dnnl_conv_backward_data(const DnnlConvShape& s, const float* dy, const float* w, float* dx, int threads);
// dw = dconv/dw (dy, x)
bool dnnl_conv_backward_weights(const DnnlConvShape& s, const float* dy, const float* x, float* dw, int threads);
// dw as above and db = sum of dy over (N, OH, OW), one backward-weights primitive with diff_bias.
bool dnnl_conv_backward_weights_bias(const DnnlConvShape& s, const float* dy, const float* x, float* dw, float* db,
                                     int threads);

}  // namespace trt_cpu
