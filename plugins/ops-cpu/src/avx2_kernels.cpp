// See avx2_kernels.h.
#include "avx2_kernels.h"

#include <cstring>

#include "conv_geom.h"

namespace trt_cpu {

namespace {

bool cpu_has_avx2_fma() {
#ifdef TRT_HAVE_AVX2_KERNELS
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace

bool avx2_kernels_on() {
  static const bool on = cpu_has_avx2_fma() && std::strcmp(conv_path_override(), "baseline") != 0 &&
                         std::strcmp(conv_path_override(), "im2col") != 0;
  return on;
}

}  // namespace trt_cpu
