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
  void valid_columns(int64_t j, int64_t& ow0, int64_t& ow1) const {
    int64_t off = j * dw - pw;
    ow0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
    ow1 = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
    if (ow1 > OW) ow1 = OW;
    if (ow0 > OW) ow0 = OW;
    if (ow1 < ow0) ow1 = ow0;
  }
  // The output rows [oh0, oh1) whose input row oh*sh - ph + i*dh lies in [0, H).
  void valid_rows(int64_t i, int64_t& oh0, int64_t& oh1) const {
    int64_t off = i * dh - ph;
    oh0 = off >= 0 ? 0 : (-off + sh - 1) / sh;
    oh1 = H - off <= 0 ? 0 : (H - off + sh - 1) / sh;
    if (oh1 > OH) oh1 = OH;
    if (oh0 > OH) oh0 = OH;
    if (oh1 < oh0) oh1 = oh0;
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
// "baseline" turns off the AVX2 weight-gradient kernels (conv_weight_grad_blocked.h);
// for comparing the paths. Defined in conv_pool.cpp.
const char* conv_path_override();

}  // namespace trt_cpu
