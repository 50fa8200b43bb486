// See conv_weight_grad_blocked.h. dw[o, c, i, j] is the sum over images n and
// output positions (oh, ow) of dy[n, o, oh, ow] * x[n, c, ih, iw] with
// ih = oh*sh - ph + i*dh, iw = ow*sw - pw + j*dw. In the blocked layout eight
// output channels of dy are one AVX2 vector, so a register tile of NB output
// channel blocks x 4 input channels takes, per position, NB vector loads of dy,
// 4 broadcasts of x and 4*NB FMAs into its accumulators.
//
// Work split: each thread owns a range of tiles (NB blocks of 8 output
// channels x 4 input channels) and walks the batch in chunks of 4 images, all
// its tiles per chunk, so the chunk's dy and x stay in L2. Per image and tap
// one pass over the output positions sums in registers (float), the chunk's
// sums are float, and the chunks' sums double. The dy and x tiles of one
// image (NB * 8 + 4 channels of a plane) stay in L1 across the taps.
#include "conv_weight_grad_blocked.h"

#include <algorithm>
#include <vector>

#include "avx2_kernels.h"
#include "channel_blocked.h"
#include "kernel_util.h"

namespace trt_cpu {

namespace {

constexpr int kInputChannelsPerTile = 4;
constexpr int64_t kImagesPerChunk = 4;

// One register tile: output channel blocks [block, block + blocks), input channels [channel, channel + 4).
struct Tile {
  int64_t block, blocks, channel;
};

// Tiles of 3 output blocks where they fit (12 accumulators), else 2 or 1.
std::vector<Tile> tiles_of(const ConvGeom& g) {
  std::vector<Tile> tiles;
  int64_t out_blocks = g.O / kLanes;
  for (int64_t b = 0; b < out_blocks;) {
    int64_t left = out_blocks - b, nb = left == 4 ? 2 : std::min<int64_t>(left, 3);
    for (int64_t c = 0; c < g.C; c += kInputChannelsPerTile) tiles.push_back({b, nb, c});
    b += nb;
  }
  return tiles;
}

#ifdef TRT_HAVE_AVX2_KERNELS

// One image, one tap (i, j): sums[(h * 4 + c) * 8 + l] += sum over the tap's
// valid positions of dy[block h][pos][l] * x[pos'][c].
// dy[h]: the image's dy tile of block h (OH, OW, 8); x: its x tile (H, W, 8)
// advanced to the tile's first input channel.
template <int NB>
TRT_AVX2_FMA inline void accumulate_tap(const ConvGeom& g, const float* const* dy, const float* x, int64_t i, int64_t j,
                                        float* sums) {
  int64_t oh0, oh1, ow0, ow1;
  g.valid_rows(i, oh0, oh1);
  g.valid_columns(j, ow0, ow1);
  __m256 acc[NB][kInputChannelsPerTile];
#pragma GCC unroll 4
  for (int h = 0; h < NB; ++h)
#pragma GCC unroll 4
    for (int c = 0; c < kInputChannelsPerTile; ++c) acc[h][c] = _mm256_setzero_ps();
  const int64_t x_step = g.sw * kLanes;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw0 = ow0 * g.sw - g.pw + j * g.dw;
    const float* xp = x + (ih * g.W + iw0) * kLanes;
    const int64_t row = (oh * g.OW + ow0) * kLanes;
    for (int64_t ow = ow0; ow < ow1; ++ow, xp += x_step) {
      const int64_t at = row + (ow - ow0) * kLanes;
      __m256 d[NB];
#pragma GCC unroll 4
      for (int h = 0; h < NB; ++h) d[h] = _mm256_loadu_ps(dy[h] + at);
#pragma GCC unroll 4
      for (int c = 0; c < kInputChannelsPerTile; ++c) {
        const __m256 xc = _mm256_broadcast_ss(xp + c);
#pragma GCC unroll 4
        for (int h = 0; h < NB; ++h) acc[h][c] = _mm256_fmadd_ps(d[h], xc, acc[h][c]);
      }
    }
  }
#pragma GCC unroll 4
  for (int h = 0; h < NB; ++h)
#pragma GCC unroll 4
    for (int c = 0; c < kInputChannelsPerTile; ++c) {
      float* s = sums + (h * kInputChannelsPerTile + c) * kLanes;
      _mm256_storeu_ps(s, _mm256_add_ps(_mm256_loadu_ps(s), acc[h][c]));
    }
}

// One tile over images [n0, n1): chunk_sums[tap][h][c][lane] (zeroed here) get
// the chunk's sums. dy (N, O/8, OH, OW, 8), x (N, C/8, H, W, 8).
template <int NB> TRT_AVX2_FMA void tile_chunk(const ConvGeom& g, const Tile& t, int64_t n0, int64_t n1,
                                               const float* dy, const float* x, float* chunk_sums) {
  const int64_t per_tap = NB * kInputChannelsPerTile * kLanes;
  const int64_t dy_plane = g.OH * g.OW * kLanes, x_plane = g.H * g.W * kLanes;
  std::fill_n(chunk_sums, g.kh * g.kw * per_tap, 0.0f);
  for (int64_t n = n0; n < n1; ++n) {
    const float* dy_tiles[NB];
    for (int h = 0; h < NB; ++h) dy_tiles[h] = dy + (n * (g.O / kLanes) + t.block + h) * dy_plane;
    const float* x_tile = x + (n * (g.C / kLanes) + t.channel / kLanes) * x_plane + t.channel % kLanes;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        accumulate_tap<NB>(g, dy_tiles, x_tile, i, j, chunk_sums + (i * g.kw + j) * per_tap);
  }
}

// Tiles [begin, end) over the batch, chunk by chunk (all tiles of a chunk
// before the next, so the chunk's dy and x stay in L2), then their dw.
TRT_AVX2_FMA void tiles_weight_grad(const ConvGeom& g, const Tile* tiles, int64_t count, const float* dy,
                                    const float* x, float* dw) {
  const int64_t taps = g.kh * g.kw, max_per_tap = 3 * kInputChannelsPerTile * kLanes;
  std::vector<float> chunk_sums(static_cast<size_t>(taps * max_per_tap));
  std::vector<double> sums(static_cast<size_t>(count * taps * max_per_tap), 0.0);  // [tile][tap][h][c][lane]
  for (int64_t n0 = 0; n0 < g.N; n0 += kImagesPerChunk) {
    const int64_t n1 = std::min(g.N, n0 + kImagesPerChunk);
    for (int64_t k = 0; k < count; ++k) {
      const Tile& t = tiles[k];
      if (t.blocks == 3) tile_chunk<3>(g, t, n0, n1, dy, x, chunk_sums.data());
      else if (t.blocks == 2) tile_chunk<2>(g, t, n0, n1, dy, x, chunk_sums.data());
      else tile_chunk<1>(g, t, n0, n1, dy, x, chunk_sums.data());
      double* tile_sums = sums.data() + k * taps * max_per_tap;
      for (int64_t e = 0; e < taps * t.blocks * kInputChannelsPerTile * kLanes; ++e)
        tile_sums[e] += static_cast<double>(chunk_sums[static_cast<size_t>(e)]);
    }
  }
  for (int64_t k = 0; k < count; ++k) {
    const Tile& t = tiles[k];
    const int64_t per_tap = t.blocks * kInputChannelsPerTile * kLanes;
    const double* tile_sums = sums.data() + k * taps * max_per_tap;
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t h = 0; h < t.blocks; ++h)
        for (int64_t c = 0; c < kInputChannelsPerTile; ++c)
          for (int64_t l = 0; l < kLanes; ++l) {
            int64_t o = (t.block + h) * kLanes + l, ci = t.channel + c;
            dw[(o * g.C + ci) * taps + tap] =
                static_cast<float>(tile_sums[tap * per_tap + (h * kInputChannelsPerTile + c) * kLanes + l]);
          }
  }
}

// db for output blocks [begin, end): each image's tile summed in double (add_tile_sum).
TRT_AVX2_FMA void bias_grad(const ConvGeom& g, const float* dy, float* db, int64_t begin, int64_t end) {
  const int64_t positions = g.OH * g.OW, out_blocks = g.O / kLanes;
  for (int64_t b = begin; b < end; ++b) {
    double lanes[kLanes] = {};
    for (int64_t n = 0; n < g.N; ++n) add_tile_sum(dy + (n * out_blocks + b) * positions * kLanes, positions, lanes);
    for (int64_t l = 0; l < kLanes; ++l) db[b * kLanes + l] = static_cast<float>(lanes[l]);
  }
}

#endif  // TRT_HAVE_AVX2_KERNELS

}  // namespace

bool weight_grad_on_blocks_suits(const ConvGeom& g) {
  return g.G == 1 && g.C % kLanes == 0 && g.O % kLanes == 0 && avx2_kernels_on();
}

trt_status weight_grad_on_blocks(const trt_kernel_args* a) {
#ifdef TRT_HAVE_AVX2_KERNELS
  const trt_tensor_view &dy = a->inputs[0], &x = a->inputs[1], &dw = a->outputs[0];
  if (!is_channel_blocked(dy) || !is_channel_blocked(x)) return run_with_blocked_inputs(a, {0, 1}, weight_grad_on_blocks);
  const ConvGeom g = conv_geometry(a, x, dw, dy);
  const float* gy = data<float>(dy);
  const float* gx = data<float>(x);
  float* gw = data<float>(dw);
  const std::vector<Tile> tiles = tiles_of(g);
  parallel_for(static_cast<int64_t>(tiles.size()), a->num_threads, [&](int64_t begin, int64_t end) {
    tiles_weight_grad(g, tiles.data() + begin, end - begin, gy, gx, gw);
  });
  if (a->n_outputs > 1) {
    float* gb = data<float>(a->outputs[1]);
    parallel_for(g.O / kLanes, a->num_threads, [&](int64_t begin, int64_t end) { bias_grad(g, gy, gb, begin, end); });
  }
  return TRT_OK;
#else
  return fail(a, TRT_ERR_INTERNAL, "conv2d weight gradient on channel blocks: built without AVX2 kernels");
#endif
}

}  // namespace trt_cpu
