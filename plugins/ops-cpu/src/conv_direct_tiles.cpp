// See conv_direct_tiles.h. Both kernels walk the image's input plane copied
// into a zero border (Hp, Wp), so that tap (i, j) of output position (oh, ow)
// reads element oh*Wp + ow + i*dh*Wp + j*dw with no bounds checks.
#include "conv_direct_tiles.h"

#include <algorithm>
#include <vector>

#include "avx2_kernels.h"
#include "kernel_util.h"
#include "simd_loops.h"

namespace trt_cpu {

namespace {

// The padded plane's geometry and each tap's offset in it, in (i, j) order.
struct PaddedPlane {
  int64_t Hp, Wp;
  std::vector<int64_t> offsets;
  explicit PaddedPlane(const ConvGeom& g) : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw) {
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) offsets.push_back(i * g.dh * Wp + j * g.dw);
  }
  // Image n's plane into xp (Hp * Wp, its border zero and never written).
  void fill(const ConvGeom& g, const float* x, int64_t n, float* xp) const {
    const float* plane = x + n * g.H * g.W;
    for (int64_t h = 0; h < g.H; ++h) std::copy_n(plane + h * g.W, g.W, xp + (h + g.ph) * Wp + g.pw);
  }
};

#ifdef TRT_HAVE_AVX2_KERNELS

// One image's output tile of one block, taps known at compile time (T > 0:
// the tap weights stay in registers) or not (T == 0). xp: the image's plane in
// a zero border (Hp, Wp); output (oh, ow) reads xp[oh*Wp + ow + off[t]].
// wt: the block's weights per tap [taps][8].
template <int T>
TRT_AVX2_FMA void forward_tile(const ConvGeom& g, const float* xp, int64_t Wp, const int64_t* off, int taps,
                               const float* wt, const float* bias, bool relu, float* tile) {
  __m256 wv[T > 0 ? T : 1];
  if constexpr (T > 0)
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) wv[t] = _mm256_loadu_ps(wt + t * kLanes);
  const __m256 start = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), zero = _mm256_setzero_ps();
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* xr = xp + oh * Wp;
    float* out = tile + oh * g.OW * kLanes;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      __m256 acc = start;
      if constexpr (T > 0) {
#pragma GCC unroll 12
        for (int t = 0; t < T; ++t) acc = _mm256_fmadd_ps(wv[t], _mm256_broadcast_ss(xr + ow + off[t]), acc);
      } else {
        for (int t = 0; t < taps; ++t)
          acc = _mm256_fmadd_ps(_mm256_loadu_ps(wt + t * kLanes), _mm256_broadcast_ss(xr + ow + off[t]), acc);
      }
      if (relu) acc = _mm256_max_ps(acc, zero);  // the second operand for NaN and for -0: relu's 0
      _mm256_storeu_ps(out + ow * kLanes, acc);
    }
  }
}

void forward_tile_of(const ConvGeom& g, const float* xp, int64_t Wp, const int64_t* off, int taps, const float* wt,
                     const float* bias, bool relu, float* tile) {
  switch (taps) {
    case 1: return forward_tile<1>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    case 2: return forward_tile<2>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    case 3: return forward_tile<3>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    case 4: return forward_tile<4>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    case 6: return forward_tile<6>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    case 9: return forward_tile<9>(g, xp, Wp, off, taps, wt, bias, relu, tile);
    default: return forward_tile<0>(g, xp, Wp, off, taps, wt, bias, relu, tile);
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

#endif  // TRT_HAVE_AVX2_KERNELS

}  // namespace

bool single_channel_tiles_suit(const ConvGeom& g) {
  return g.C == 1 && g.G == 1 && g.O % kLanes == 0 && g.sh == 1 && g.sw == 1 && avx2_kernels_on();
}

void single_channel_weight_grad(const ConvGeom& g, const GradTiles& dy, const float* x, float* dw, float* db,
                                int threads) {
#ifdef TRT_HAVE_AVX2_KERNELS
  const PaddedPlane pad(g);
  const int64_t taps = g.kh * g.kw, blocks = g.O / kLanes;
  parallel_for(blocks, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(dy.scratch_size), 0.0f);
    std::vector<float> xp(static_cast<size_t>(pad.Hp * pad.Wp), 0.0f);
    std::vector<double> sums(static_cast<size_t>((end - begin) * taps * kLanes), 0.0),
        bias(static_cast<size_t>((end - begin) * kLanes), 0.0);
    for (int64_t n = 0; n < g.N; ++n) {
      pad.fill(g, x, n, xp.data());
      for (int64_t b = begin; b < end; ++b) {
        const float* tile = dy.tile(dy.context, n, b, scratch.data());  // (OH*OW, 8)
        double* block_sums = sums.data() + (b - begin) * taps * kLanes;
        for (int64_t t0 = 0; t0 < taps; t0 += kMaxTapsPerPass) {
          const int group = static_cast<int>(std::min<int64_t>(kMaxTapsPerPass, taps - t0));
          single_channel_tap_group(group, g, tile, xp.data(), pad.Wp, pad.offsets.data() + t0,
                                   block_sums + t0 * kLanes);
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

void single_channel_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y,
                            bool y_blocked, bool relu, int threads) {
#ifdef TRT_HAVE_AVX2_KERNELS
  const PaddedPlane pad(g);
  const int taps = static_cast<int>(pad.offsets.size());
  const int64_t blocks = g.O / kLanes, ohw = g.ohw();
  std::vector<float> wt(static_cast<size_t>(g.O * taps));  // [block][tap][lane]: w (O, 1, kH, kW) regrouped
  for (int64_t o = 0; o < g.O; ++o)
    for (int t = 0; t < taps; ++t) wt[static_cast<size_t>(((o / kLanes) * taps + t) * kLanes + o % kLanes)] = w[o * taps + t];
  parallel_for(g.N, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> xp(static_cast<size_t>(pad.Hp * pad.Wp), 0.0f);
    std::vector<float> scratch(y_blocked ? 0 : static_cast<size_t>(ohw * kLanes));
    for (int64_t n = begin; n < end; ++n) {
      pad.fill(g, x, n, xp.data());
      for (int64_t blk = 0; blk < blocks; ++blk) {
        float* tile = y_blocked ? y + (n * blocks + blk) * ohw * kLanes : scratch.data();
        forward_tile_of(g, xp.data(), pad.Wp, pad.offsets.data(), taps, wt.data() + blk * taps * kLanes,
                        b ? b + blk * kLanes : nullptr, relu, tile);
        if (!y_blocked) simd::tile_to_planes(tile, y + (n * g.O + blk * kLanes) * ohw, ohw);
      }
    }
  });
#else
  (void)g, (void)x, (void)w, (void)b, (void)y, (void)y_blocked, (void)relu, (void)threads;
#endif
}

}  // namespace trt_cpu
