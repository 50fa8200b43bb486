// The weight (and bias) gradient of a float32 convolution with one group and
// channel counts divisible by 8 (and of a single-input-channel first layer), computed on channel-blocked dy and x
// (channel_blocked.h) with AVX2 FMA register tiles. oneDNN 2.6's AVX2
// backward-weights kernel reaches about 2/3 of its forward's rate on the
// seed CNN's conv2 (32 -> 64, 14x14, batch 64); this kernel about the
// forward's (docs/ops.md has the figures). Every dw and db element is summed
// by one thread in a fixed order, so the result does not depend on the
// thread count.
#pragma once
#include "conv_geom.h"
#include "trainrt/plugin_abi.h"

namespace trt_cpu {

// Whether a float32 call of geometry g takes this kernel: one group, C and O
// multiples of 8, and a CPU with AVX2 and FMA.
bool weight_grad_on_blocks_suits(const ConvGeom& g);

// conv2d_backward_weight (outputs [dw]) and conv2d_backward_weight_bias
// (outputs [dw, db]): inputs [dy, x], each NCHW or channel-blocked (NCHW
// operands are reordered into a copy first); int_attrs as conv2d.
trt_status weight_grad_on_blocks(const trt_kernel_args* a);

// A single-input-channel convolution (C == G == 1: a grayscale first layer)
// with O a multiple of 8 and stride 1, on a CPU with AVX2 and FMA: its dw
// (O, 1, kH, kW) and db (O, may be null) with 8 output channels per vector,
// dy taken one tile (OH*OW, 8) per (image n, block b of 8 output channels)
// from tile(context, n, b, scratch) (scratch: scratch_size floats, this
// thread's, zeroed before its first call). Per image, per tap, the sum over
// positions is a float FMA chain, added in double across images; db in double.
struct GradTiles {
  const float* (*tile)(const void* context, int64_t n, int64_t block, float* scratch);
  const void* context;
  int64_t scratch_size;
};
bool single_channel_weight_grad_suits(const ConvGeom& g);
void single_channel_weight_grad(const ConvGeom& g, const GradTiles& dy, const float* x, float* dw, float* db,
                                int threads);

}  // namespace trt_cpu
