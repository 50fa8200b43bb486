// pool_relu_conv2d_backward_weight_bias: a first layer's weight gradient
// straight from the gradient of the max-pooling after it,
//   (dw, db) = conv2d_backward_weight_bias(max_pool2d_backward_relu(dy, c, y), x),
// which a compiled plan substitutes for the two kernels (runtime/compile/
// fusion.cpp). With the direct kernels (one input channel per group), each
// gradient plane dc (n, o) is made in cache right where the weight gradient
// reads it: the whole dc (6.4 MB for the seed CNN's first layer at batch 64)
// is never written or read back. Values are bitwise the two kernels'. Other
// convolutions run the two kernels through an NCHW dc buffer.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "channel_blocked.h"
#include "conv_direct.h"
#include "conv_direct_tiles.h"
#include "host_memory.h"
#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {

template <typename T>
void max_pool_backward_relu_plane(const trt_plugin_util::PoolGeom& g, const T* dy, const T* x, const T* y, T* dx);

namespace {

// Where the pooling's planes are: dy and y (N, C, OH, OW) NCHW or channel-blocked,
// c (N, C, H, W) NCHW. A plane of a blocked operand is gathered (every 8th element).
// When dy and y are both blocked and the windows tile exactly by 2x2, a block of
// 8 gradient planes is made at once instead: c's 8 planes transposed into a
// tile, simd::max_pool_2x2_backward_tile across the 8 channels, the result
// transposed back (the same values: the tile kernel picks the same winners).
template <typename T> struct PoolPlanes {
  const T *dy, *c, *y;
  bool dy_blocked, y_blocked;
  int64_t C, hw, ohw;
  trt_plugin_util::PoolGeom one_plane;  // the pooling's geometry with planes = 1
  bool by_blocks;

  static constexpr int64_t kTag = 16;  // scratch head: which block the planes after it hold
  int64_t scratch_size() const { return by_blocks ? kTag + 3 * kChannelBlock * hw : hw + 2 * ohw; }

  // by_blocks: the gradient's tile (hw, 8) of block `block` (n * C/8 + b) into
  // dc_tile, through c's tile in c_tile.
  void gradient_tile(int64_t block, T* c_tile, T* dc_tile) const {
    simd::planes_to_tile(c + block * kChannelBlock * hw, c_tile, hw);
    simd::max_pool_2x2_backward_tile(dc_tile, c_tile, y + block * kChannelBlock * ohw,
                                     dy + block * kChannelBlock * ohw, one_plane.OH, one_plane.OW, true);
  }

  const T* block_plane(int64_t n, int64_t o, T* scratch) const {
    const int64_t block = n * (C / kChannelBlock) + o / kChannelBlock, first = o - o % kChannelBlock;
    T* planes = scratch + kTag;
    int64_t held;
    std::memcpy(&held, scratch, sizeof held);
    if (held != block + 1) {  // scratch starts zeroed: block + 1 is never 0
      T *c_tile = planes + kChannelBlock * hw, *dc_tile = c_tile + kChannelBlock * hw;
      gradient_tile(block, c_tile, dc_tile);
      simd::tile_to_planes(dc_tile, planes, hw);
      held = block + 1;
      std::memcpy(scratch, &held, sizeof held);
    }
    return planes + (o - first) * hw;
  }

  // The gradient's tile (hw, 8) of channel block b of image n, for
  // single_channel_weight_grad (conv_direct_tiles.h): the tile kernel's
  // result as it is, or 8 planes transposed.
  int64_t tile_scratch_size() const { return by_blocks ? 2 * kChannelBlock * hw : 2 * kChannelBlock * hw + hw + 2 * ohw; }
  static const T* tile(const void* context, int64_t n, int64_t b, T* scratch) {
    auto* p = static_cast<const PoolPlanes*>(context);
    const int64_t hw = p->hw;
    T *first = scratch, *second = scratch + kChannelBlock * hw;
    if (p->by_blocks) {  // first: c's tile; second: the gradient's
      p->gradient_tile(n * (p->C / kChannelBlock) + b, first, second);
      return second;
    }
    for (int64_t k = 0; k < kChannelBlock; ++k)  // first: the 8 gradient planes
      std::copy_n(plane(context, n, b * kChannelBlock + k, second + kChannelBlock * hw), hw, first + k * hw);
    simd::planes_to_tile(first, second, hw);
    return second;
  }

  const T* pooled(const T* base, bool blocked, int64_t n, int64_t o, T* gathered) const {
    if (!blocked) return base + (n * C + o) * ohw;
    const T* tile = base + (n * C + o - o % kChannelBlock) * ohw + o % kChannelBlock;
    for (int64_t k = 0; k < ohw; ++k) gathered[k] = tile[k * kChannelBlock];
    return gathered;
  }
  // scratch: scratch_size() elements, zeroed before the first call.
  static const T* plane(const void* context, int64_t n, int64_t o, T* scratch) {
    auto* p = static_cast<const PoolPlanes*>(context);
    if (p->by_blocks) return p->block_plane(n, o, scratch);
    T* dc = scratch;
    const T* dy = p->pooled(p->dy, p->dy_blocked, n, o, scratch + p->hw);
    const T* y = p->pooled(p->y, p->y_blocked, n, o, scratch + p->hw + p->ohw);
    max_pool_backward_relu_plane(p->one_plane, dy, p->c + (n * p->C + o) * p->hw, y, dc);
    return dc;
  }
};

template <typename T> trt_status fused_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &c = a->inputs[1], &y = a->inputs[2], &x = a->inputs[3];
  const trt_tensor_view &dw = a->outputs[0], &db = a->outputs[1];
  const int64_t* at = a->int_attrs;  // conv's 7, then the pooling's 6
  ConvGeom g = conv_geometry(a, x, dw, c);
  if (conv_takes_direct_path(g) && c.ndim == 4 && !is_channel_blocked(x)) {
    int64_t dys[4];
    logical_nchw(dy, dys);
    const trt_plugin_util::PoolGeom pg{1, c.sizes[2], c.sizes[3], dys[2], dys[3], at[7], at[8], at[9], at[10], at[11],
                                       at[12]};
    const bool tiled = pg.kh == 2 && pg.kw == 2 && pg.sh == 2 && pg.sw == 2 && pg.ph == 0 && pg.pw == 0 &&
                       pg.H == 2 * pg.OH && pg.W == 2 * pg.OW;
    PoolPlanes<T> planes{data<T>(dy), data<T>(c), data<T>(y), is_channel_blocked(dy), is_channel_blocked(y),
                         c.sizes[1], c.sizes[2] * c.sizes[3], dys[2] * dys[3], pg,
                         tiled && is_channel_blocked(dy) && is_channel_blocked(y)};
    if constexpr (std::is_same_v<T, float>)
      if (single_channel_tiles_suit(g)) {
        GradTiles tiles{&PoolPlanes<T>::tile, &planes, planes.tile_scratch_size()};
        single_channel_weight_grad(g, tiles, data<T>(x), data<T>(dw), data<T>(db), a->num_threads);
        return TRT_OK;
      }
    GradPlanes<T> source{&PoolPlanes<T>::plane, &planes, planes.scratch_size()};
    direct_conv_backward_weights<T>(g, source, data<T>(x), data<T>(dw), data<T>(db), a->num_threads);
    return TRT_OK;
  }
  // The two kernels, through an NCHW dc the shape of c.
  HostBuffer dc_memory(static_cast<size_t>(numel(c)) * sizeof(T));
  if (!dc_memory.data()) return fail(a, TRT_ERR_OUT_OF_MEMORY, "pool_relu_conv2d_backward_weight_bias: out of memory");
  trt_tensor_view dc = c;
  dc.data = dc_memory.data();
  const trt_tensor_view pool_in[3] = {dy, c, y}, conv_in[2] = {dc, x};
  trt_kernel_args pool = with_operands(a, pool_in, 3, &dc, 1, at + 7, 6);
  if (trt_status s = run_max_pool2d_backward_relu(&pool); s != TRT_OK) return s;
  trt_kernel_args conv = with_operands(a, conv_in, 2, a->outputs, 2, at, 7);
  return run_conv2d_backward_weight_bias(&conv);
}

}  // namespace

// inputs [dy (N, C, OH, OW), c (N, C, H, W), y (N, C, OH, OW), x (N, Cin, Hin, Win)],
// outputs [dw (C, Cin/G, kH, kW), db (C)], int_attrs [conv2d's 7, max_pool2d's 6]
trt_status pool_relu_conv2d_backward_weight_bias_kernel(const trt_kernel_args* a) {
  if (a->n_inputs != 4 || a->n_outputs != 2 || a->n_int_attrs < 13)
    return fail(a, TRT_ERR_INVALID_ARGUMENT,
                "pool_relu_conv2d_backward_weight_bias: wrong number of inputs, outputs or int_attrs (see docs/ops.md)");
  for (int i = 0; i < 4; ++i)
    if (!is_contiguous(a->inputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "pool_relu_conv2d_backward_weight_bias: tensors must be contiguous");
  TRT_CPU_DISPATCH_FLOAT(a, a->inputs[0].dtype, return fused_typed<scalar_t>(a));
  return TRT_OK;
}

}  // namespace trt_cpu
