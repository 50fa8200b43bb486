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

}  // namespace trt_cpu
