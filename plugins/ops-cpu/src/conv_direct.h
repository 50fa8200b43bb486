// Direct convolution for one input channel per group (C / G == 1: the first
// layer of a grayscale model, depthwise layers), float32 and float64. The
// float32 grayscale case with O % 8 == 0 and stride 1 goes to the AVX2 tile
// kernels (conv_direct_tiles.h) where the CPU has them: conv2d's dispatch
// (conv_pool.cpp) sends the forward there, the weight gradient below hands
// dy on as tiles. There a
// convolution is kH*kW scaled, shifted copies of one input plane per output
// plane, all in cache. It beats both other paths: oneDNN pads the single
// channel to a block of 8 and reorders the whole output, and im2col builds
// kH*kW copies of the input. Seed CNN first layer (1 -> 32, 28x28, batch 64,
// 1 thread): see docs/ops.md for the figures.
#pragma once
#include "conv_geom.h"

namespace trt_cpu {

// The geometry the direct kernels take.
inline bool direct_conv_suits(const ConvGeom& g) { return g.C == g.G; }

// y = conv(x, w) + b (b may be null), then relu when asked.
// x (N, C, H, W), w (O, 1, kH, kW), b (O), y (N, O, OH, OW), all contiguous.
template <typename T> void direct_conv_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y, bool relu,
                                               int threads);
// dw = dconv/dw (dy, x), and db = sum of dy over (N, OH, OW) when db is not null.
template <typename T> void direct_conv_backward_weights(const ConvGeom& g, const T* dy, const T* x, T* dw, T* db,
                                                        int threads);

// The same, with dy's plane (n, o) (OH, OW) from plane(context, n, o, scratch):
// a pointer to it, computed into `scratch` (scratch_size elements, this
// thread's, zeroed before its first call; asked for in the order n, then o over
// the thread's channels, so it may keep a block of planes there) when dy is not in memory (max_pool2d_backward_relu computing the
// gradient right where it is consumed, conv_pool_backward.cpp).
template <typename T> struct GradPlanes {
  const T* (*plane)(const void* context, int64_t n, int64_t o, T* scratch);
  const void* context;
  int64_t scratch_size;
};
template <typename T> void direct_conv_backward_weights(const ConvGeom& g, const GradPlanes<T>& dy, const T* x, T* dw,
                                                        T* db, int threads);

}  // namespace trt_cpu
