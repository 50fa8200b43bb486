// The geometry of one 2-d convolution as the CPU kernels see it (NCHW input,
// OIHW weight with C/G input channels per output channel), taken from a
// kernel call's views and int_attrs [sh, sw, ph, pw, dh, dw, groups].
#pragma once
#include <cstdint>

#include "trainrt/plugin_abi.h"

namespace trt_cpu {

struct ConvGeom {
  int64_t N, C, H, W;    // x: (N, C, H, W)
  int64_t O, kh, kw;     // w: (O, C/G, kH, kW)
  int64_t OH, OW;        // y: (N, O, OH, OW)
  int64_t sh, sw, ph, pw, dh, dw, G;
  int64_t ckk() const { return C * kh * kw; }     // rows of the column matrix
  int64_t cols() const { return N * OH * OW; }    // its columns
  int64_t ohw() const { return OH * OW; }
  // The output columns [ow0, ow1) whose input column ow*sw - pw + j*dw lies in [0, W).
  void valid_columns(int64_t j, int64_t& ow0, int64_t& ow1) const { valid_outputs(j * dw - pw, W, sw, OW, ow0, ow1); }
  // The output rows [oh0, oh1) whose input row oh*sh - ph + i*dh lies in [0, H).
  void valid_rows(int64_t i, int64_t& oh0, int64_t& oh1) const { valid_outputs(i * dh - ph, H, sh, OH, oh0, oh1); }

 private:
  // Along one axis: the outputs [first, last) of `outputs` whose input o*stride + off lies in [0, in).
  static void valid_outputs(int64_t off, int64_t in, int64_t stride, int64_t outputs, int64_t& first, int64_t& last) {
    first = off >= 0 ? 0 : (-off + stride - 1) / stride;
    last = in - off <= 0 ? 0 : (in - off + stride - 1) / stride;
    if (last > outputs) last = outputs;
    if (first > outputs) first = outputs;
    if (last < first) last = first;
  }
};

// The geometry of a call with x (or dx), w (or dw) and y (or dy), from its first
// 7 int_attrs. x and y may be channel-blocked (channel_blocked.h): the geometry
// is of the tensors they hold. Defined in conv_pool.cpp.
ConvGeom conv_geometry(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& w,
                       const trt_tensor_view& y);
// Whether the call takes the direct kernels (conv_direct.h). Defined in conv_pool.cpp.
bool conv_takes_direct_path(const ConvGeom& g);
// TRAINRT_CPU_CONV, "" when unset: "im2col" forces the im2col path (conv_pool.cpp),
// "baseline" turns off the hand-written AVX2 kernels (avx2_kernels.h); for
// comparing the paths. Defined in conv_pool.cpp.
const char* conv_path_override();

}  // namespace trt_cpu
