// See conv_weight_grad_blocked.h. dw[o, c, i, j] is the sum over images n and
// output positions (oh, ow) of dy[n, o, oh, ow] * x[n, c, ih, iw] with
// ih = oh*sh - ph + i*dh, iw = ow*sw - pw + j*dw. In the blocked layout eight
// output channels of dy are one AVX2 vector, so a register tile of NB output
// channel blocks x 4 input channels takes, per position, NB vector loads of dy,
// 4 broadcasts of x and 4*NB FMAs into its accumulators.
//
// Work split: a task is one tile (NB blocks of 8 output channels, 4 input
// channels) over the whole batch; threads take whole tasks. Within a task the
// images go in chunks of 4: per image and tap, one pass over the output
// positions sums in registers (float), the chunk's sums in float, and the
// chunks' sums in double. The dy and x tiles of one image (NB * 8 + 4 channels
// of a plane) stay in L1 across the taps.
#include "conv_weight_grad_blocked.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "channel_blocked.h"
#include "kernel_util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TRT_HAVE_AVX2_KERNELS 1
#define TRT_AVX2_FMA __attribute__((target("avx2,fma")))
#endif

namespace trt_cpu {

namespace {

constexpr int kInputChannelsPerTile = 4;
constexpr int64_t kImagesPerChunk = 4;
constexpr int64_t kLanes = kChannelBlock;  // one AVX2 vector of float32: one channel block

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

// db for output blocks [begin, end), summed in double: even and odd positions
// in separate sums, added at the end.
TRT_AVX2_FMA void bias_grad(const ConvGeom& g, const float* dy, float* db, int64_t begin, int64_t end) {
  const int64_t positions = g.OH * g.OW, out_blocks = g.O / kLanes;
  for (int64_t b = begin; b < end; ++b) {
    __m256d sums[2][2] = {{_mm256_setzero_pd(), _mm256_setzero_pd()}, {_mm256_setzero_pd(), _mm256_setzero_pd()}};
    for (int64_t n = 0; n < g.N; ++n) {
      const float* p = dy + (n * out_blocks + b) * positions * kLanes;
      for (int64_t k = 0; k < positions; ++k) {
        const __m256 v = _mm256_loadu_ps(p + k * kLanes);
        __m256d* s = sums[k % 2];
        s[0] = _mm256_add_pd(s[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s[1] = _mm256_add_pd(s[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
      }
    }
    double lanes[kLanes];
    _mm256_storeu_pd(lanes, _mm256_add_pd(sums[0][0], sums[1][0]));
    _mm256_storeu_pd(lanes + 4, _mm256_add_pd(sums[0][1], sums[1][1]));
    for (int64_t l = 0; l < kLanes; ++l) db[b * kLanes + l] = static_cast<float>(lanes[l]);
  }
}

// One image's tile of one output block, taps [t0, t0 + T): sums[t - t0][lane] +=
// sum over positions of dy[pos][lane] * xp[pos' + off[t]]. xp: the image's
// zero-padded plane (Hp, Wp); output position (oh, ow) reads xp[oh*Wp + ow + off].
template <int T>
TRT_AVX2_FMA void single_channel_taps(const ConvGeom& g, const float* dy, const float* xp, int64_t Wp,
                                      const int64_t* off, double* sums) {
  __m256 acc[T];
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* row = dy + oh * g.OW * kLanes;
    const float* xr = xp + oh * Wp;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const __m256 d = _mm256_loadu_ps(row + ow * kLanes);
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) acc[t] = _mm256_fmadd_ps(d, _mm256_broadcast_ss(xr + ow + off[t]), acc[t]);
    }
  }
  float lanes_of[T][kLanes];
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(lanes_of[t], acc[t]);
  for (int t = 0; t < T; ++t) {
    const float* lanes = lanes_of[t];
    for (int64_t l = 0; l < kLanes; ++l) sums[t * kLanes + l] += static_cast<double>(lanes[l]);
  }
}

// db's lanes += the sum of a tile's (positions, 8) vectors, in double.
TRT_AVX2_FMA void add_tile_sum(const float* tile, int64_t positions, double* lanes) {
  __m256d low = _mm256_loadu_pd(lanes), high = _mm256_loadu_pd(lanes + 4);
  for (int64_t k = 0; k < positions; ++k) {
    const __m256 v = _mm256_loadu_ps(tile + k * kLanes);
    low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  _mm256_storeu_pd(lanes, low);
  _mm256_storeu_pd(lanes + 4, high);
}

constexpr int kMaxTapsPerPass = 12;  // accumulators in registers

void single_channel_tap_group(int taps, const ConvGeom& g, const float* dy, const float* xp, int64_t Wp,
                              const int64_t* off, double* sums) {
  switch (taps) {
    case 1: return single_channel_taps<1>(g, dy, xp, Wp, off, sums);
    case 2: return single_channel_taps<2>(g, dy, xp, Wp, off, sums);
    case 3: return single_channel_taps<3>(g, dy, xp, Wp, off, sums);
    case 4: return single_channel_taps<4>(g, dy, xp, Wp, off, sums);
    case 5: return single_channel_taps<5>(g, dy, xp, Wp, off, sums);
    case 6: return single_channel_taps<6>(g, dy, xp, Wp, off, sums);
    case 7: return single_channel_taps<7>(g, dy, xp, Wp, off, sums);
    case 8: return single_channel_taps<8>(g, dy, xp, Wp, off, sums);
    case 9: return single_channel_taps<9>(g, dy, xp, Wp, off, sums);
    case 10: return single_channel_taps<10>(g, dy, xp, Wp, off, sums);
    case 11: return single_channel_taps<11>(g, dy, xp, Wp, off, sums);
    default: return single_channel_taps<12>(g, dy, xp, Wp, off, sums);
  }
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

#else

bool cpu_has_avx2_fma() { return false; }

#endif

// The CPU has the kernels' instructions, and TRAINRT_CPU_CONV asks for no other path.
bool avx2_kernels_on() {
  static const bool on = cpu_has_avx2_fma() && std::strcmp(conv_path_override(), "baseline") != 0 &&
                         std::strcmp(conv_path_override(), "im2col") != 0;
  return on;
}

}  // namespace

bool weight_grad_on_blocks_suits(const ConvGeom& g) {
  return g.G == 1 && g.C % kLanes == 0 && g.O % kLanes == 0 && avx2_kernels_on();
}

bool single_channel_weight_grad_suits(const ConvGeom& g) {
  return g.C == 1 && g.G == 1 && g.O % kLanes == 0 && g.sh == 1 && g.sw == 1 && avx2_kernels_on();
}

void single_channel_weight_grad(const ConvGeom& g, const GradTiles& dy, const float* x, float* dw, float* db,
                                int threads) {
#ifdef TRT_HAVE_AVX2_KERNELS
  const int64_t Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw, taps = g.kh * g.kw, blocks = g.O / kLanes;
  std::vector<int64_t> offsets;  // tap (i, j) reads the padded plane at + i*dh*Wp + j*dw
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) offsets.push_back(i * g.dh * Wp + j * g.dw);
  parallel_for(blocks, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(dy.scratch_size), 0.0f);
    std::vector<float> xp(static_cast<size_t>(Hp * Wp), 0.0f);  // the image's plane in a zero border
    std::vector<double> sums(static_cast<size_t>((end - begin) * taps * kLanes), 0.0),
        bias(static_cast<size_t>((end - begin) * kLanes), 0.0);
    for (int64_t n = 0; n < g.N; ++n) {
      const float* plane = x + n * g.H * g.W;
      for (int64_t h = 0; h < g.H; ++h) std::copy_n(plane + h * g.W, g.W, xp.data() + (h + g.ph) * Wp + g.pw);
      for (int64_t b = begin; b < end; ++b) {
        const float* tile = dy.tile(dy.context, n, b, scratch.data());  // (OH*OW, 8)
        double* block_sums = sums.data() + (b - begin) * taps * kLanes;
        for (int64_t t0 = 0; t0 < taps; t0 += kMaxTapsPerPass) {
          const int group = static_cast<int>(std::min<int64_t>(kMaxTapsPerPass, taps - t0));
          single_channel_tap_group(group, g, tile, xp.data(), Wp, offsets.data() + t0, block_sums + t0 * kLanes);
        }
        if (db) add_tile_sum(tile, g.OH * g.OW, bias.data() + (b - begin) * kLanes);
      }
    }
    for (int64_t b = begin; b < end; ++b)
      for (int64_t l = 0; l < kLanes; ++l) {
        const int64_t o = b * kLanes + l;
        for (int64_t t = 0; t < taps; ++t)
          dw[o * taps + t] = static_cast<float>(sums[static_cast<size_t>(((b - begin) * taps + t) * kLanes + l)]);
        if (db) db[o] = static_cast<float>(bias[static_cast<size_t>((b - begin) * kLanes + l)]);
      }
  });
#else
  (void)g, (void)dy, (void)x, (void)dw, (void)db, (void)threads;
#endif
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
