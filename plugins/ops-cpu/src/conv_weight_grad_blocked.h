// The weight (and bias) gradient of a float32 convolution with one group and
// channel counts divisible by 8, computed on channel-blocked dy and x
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

}  // namespace trt_cpu
