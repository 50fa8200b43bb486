// The channel-blocked layout (oneDNN's nChw8c) that a compiled plan may give
// the activations between convolutions and poolings (runtime/compile/
// channel_blocked.cpp): a 4-D tensor (N, C, H, W) with C % 8 == 0 stored as
// the contiguous 5-D view (N, C/8, H, W, 8), element (n, c, h, w) at
// [n][c / 8][h][w][c % 8]. oneDNN's AVX2 convolutions work in this layout, so
// a tensor passed between them in it needs no reorder on either side.
// Kernels that take it (docs/ops.md): conv2d, conv2d_relu, conv2d_backward_*,
// max_pool2d, max_pool2d_backward, max_pool2d_backward_relu, for their
// activation operands (never weights or bias). The plugin registers
// reorder_channel_blocked when its convolutions run natively on the layout
// (built with oneDNN): the plan's pass looks for that kernel.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "simd_loops.h"
#include "trainrt/plugin_abi.h"

namespace trt_cpu {

constexpr int64_t kChannelBlock = 8;

// A contiguous (N, C/8, H, W, 8) view.
bool is_channel_blocked(const trt_tensor_view& v);
// Whether any input or output of the call is channel-blocked.
bool any_channel_blocked(const trt_kernel_args* a);
// The (N, C, H, W) sizes of a 4-D view, or of the tensor a blocked view holds.
void logical_nchw(const trt_tensor_view& v, int64_t out[4]);

// One (n, channel block) tile (H*W, 8) <-> its eight planes (8, H*W):
// simd::tile_to_planes and simd::planes_to_tile (simd_loops.h).

// Runs `kernel` on the same call with every channel-blocked operand as a
// plain NCHW copy (blocked outputs are reordered back afterwards): for the
// paths that work on NCHW only (direct and im2col convolutions).
trt_status run_with_plain_layout(const trt_kernel_args* a, trt_status (*kernel)(const trt_kernel_args*));

// Runs `kernel` on the same call with the inputs at the indices `activations`
// as channel-blocked copies where they come NCHW (4-D, C % 8 == 0): for
// kernels whose arithmetic walks channel blocks only
// (conv_weight_grad_blocked.h).
trt_status run_with_blocked_inputs(const trt_kernel_args* a, std::initializer_list<int> activations,
                                   trt_status (*kernel)(const trt_kernel_args*));

bool register_channel_blocked(const trt_host_api* host);

}  // namespace trt_cpu
