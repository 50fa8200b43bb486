// A single-input-channel float32 convolution (C == G == 1: a grayscale first
// layer) with O a multiple of 8 and stride 1, on a CPU with AVX2 and FMA
// (avx2_kernels.h), computed with 8 output channels per vector: per output
// position one broadcast of each tap's input element and one FMA per tap.
// The output (or its gradient) is handled as one tile (OH*OW, 8) per (image,
// block of 8 output channels): the channel-blocked layout's tile
// (channel_blocked.h), written or read in place when the tensor is blocked,
// transposed from or to NCHW planes otherwise. The portable direct kernels
// (conv_direct.h) stay for everything else.
#pragma once
#include "conv_geom.h"

namespace trt_cpu {

// Whether a float32 convolution of geometry g takes these kernels.
bool single_channel_tiles_suit(const ConvGeom& g);

// y = conv(x, w) + b (b may be null), relu'd when asked (relu(v) = v > 0 ? v : 0).
// x (N, 1, H, W), w (O, 1, kH, kW), y (N, O, OH, OW), or channel-blocked
// (N, O/8, OH, OW, 8) when y_blocked. Per output element: bias, then each tap
// (i, j) in order by FMA.
void single_channel_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y,
                            bool y_blocked, bool relu, int threads);

// dw (O, 1, kH, kW) and db (O, may be null), with dy taken one tile (OH*OW, 8)
// per (image n, block b) from tile(context, n, b, scratch) (scratch:
// scratch_size floats, this thread's, zeroed before its first call). Per image,
// per tap, the sum over positions is a float FMA chain, added in double across
// images; db in double. Each block is summed by one thread: the result does
// not depend on the thread count.
struct GradTiles {
  const float* (*tile)(const void* context, int64_t n, int64_t block, float* scratch);
  const void* context;
  int64_t scratch_size;
};
void single_channel_weight_grad(const ConvGeom& g, const GradTiles& dy, const float* x, float* dw, float* db,
                                int threads);

}  // namespace trt_cpu
