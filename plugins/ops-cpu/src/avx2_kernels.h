// The hand-vectorised AVX2 + FMA kernels (conv_weight_grad_blocked.cpp,
// conv_direct_tiles.cpp): the plugin is compiled for baseline x86-64, so
// each such function carries TRT_AVX2_FMA and runs only where
// avx2_kernels_on() says the CPU has the instructions. Elsewhere (no x86, no
// AVX2) the callers keep their portable paths.
#pragma once
#include <cstdint>

#include "channel_blocked.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TRT_HAVE_AVX2_KERNELS 1
#define TRT_AVX2_FMA __attribute__((target("avx2,fma")))
#endif

namespace trt_cpu {

constexpr int64_t kLanes = kChannelBlock;  // one AVX2 vector of float32: one channel block

// The CPU has AVX2 and FMA, and TRAINRT_CPU_CONV (conv_geom.h) asks for no
// other path ("baseline" or "im2col").
bool avx2_kernels_on();

#ifdef TRT_HAVE_AVX2_KERNELS
// lanes[0..8) += the sum of a tile's `positions` vectors of 8 floats, in
// double: even and odd positions in separate sums, added at the end (a bias
// gradient's per-channel sums).
TRT_AVX2_FMA inline void add_tile_sum(const float* tile, int64_t positions, double* lanes) {
  __m256d sums[2][2] = {{_mm256_setzero_pd(), _mm256_setzero_pd()}, {_mm256_setzero_pd(), _mm256_setzero_pd()}};
  for (int64_t k = 0; k < positions; ++k) {
    const __m256 v = _mm256_loadu_ps(tile + k * kLanes);
    __m256d* s = sums[k % 2];
    s[0] = _mm256_add_pd(s[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    s[1] = _mm256_add_pd(s[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  _mm256_storeu_pd(lanes, _mm256_add_pd(_mm256_loadu_pd(lanes), _mm256_add_pd(sums[0][0], sums[1][0])));
  _mm256_storeu_pd(lanes + 4, _mm256_add_pd(_mm256_loadu_pd(lanes + 4), _mm256_add_pd(sums[0][1], sums[1][1])));
}
#endif

}  // namespace trt_cpu
