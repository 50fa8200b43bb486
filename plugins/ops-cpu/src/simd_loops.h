// The contiguous inner loops of the hot element-wise and pooling kernels, as
// plain counted loops over __restrict__ pointers with branch-free selects, so
// they vectorise. The plugin is built for the x86-64 baseline (SSE2); these
// functions are compiled again for AVX2 and AVX-512 (GCC/Clang function
// multi-versioning, target_clones) and the loader picks the machine's best.
// No FMA is enabled in the clones: every result is rounded exactly as the
// scalar expressions in trainrt/kernel_math.h.
// Operands may be the same array (in-place) but must not overlap otherwise;
// the callers check (simd_ok) and keep their strided loops for the rest.
#pragma once
#include <cstdint>

namespace trt_cpu::simd {

// out and each input either the same array or disjoint over n elements.
template <typename T> bool simd_ok(const T* out, const T* in, int64_t n) {
  return out == in || out + n <= in || in + n <= out;
}

void relu(float* y, const float* x, int64_t n);
void relu(double* y, const double* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* x, int64_t n);
void relu_backward(double* dx, const double* dy, const double* x, int64_t n);
void add(float* y, const float* a, const float* b, int64_t n);
void add(double* y, const double* a, const double* b, int64_t n);
void mul(float* y, const float* a, const float* b, int64_t n);
void mul(double* y, const double* a, const double* b, int64_t n);

// A channel block's tile (hw, 8) <-> its eight planes (8, hw) (channel_blocked.h).
void tile_to_planes(const float* tile, float* planes, int64_t hw);
void tile_to_planes(const double* tile, double* planes, int64_t hw);
void planes_to_tile(const float* planes, float* tile, int64_t hw);
void planes_to_tile(const double* planes, double* tile, int64_t hw);

// MaxPool2d(2) over one channel block's tile (2 OH, 2 OW, 8) -> (OH, OW, 8),
// exactly tiled, NaN rules included (the same values as the plane functions).
void max_pool_2x2_tile(float* y, const float* x, int64_t OH, int64_t OW);
void max_pool_2x2_tile(double* y, const double* x, int64_t OH, int64_t OW);
// Its backward: dx (2 OH, 2 OW, 8) from x (2 OH, 2 OW, 8), y and dy (OH, OW, 8),
// every dx element written, as max_pool_2x2_backward_row.
void max_pool_2x2_backward_tile(float* dx, const float* x, const float* y, const float* dy, int64_t OH, int64_t OW,
                                bool relu_mask);
void max_pool_2x2_backward_tile(double* dx, const double* x, const double* y, const double* dy, int64_t OH,
                                int64_t OW, bool relu_mask);

// MaxPool2d(2) over one output row: out[ow] = max of r0[2ow..2ow+1], r1[2ow..2ow+1]
// (no NaN logic); returns true when any of the inputs was NaN.
bool max_pool_2x2_row(float* out, const float* r0, const float* r1, int64_t OW);
bool max_pool_2x2_row(double* out, const double* r0, const double* r1, int64_t OW);
// Its backward over one output row of an exactly tiled plane: each window's
// winner (first element equal to y, or first NaN when y is NaN) gets dy, the
// others 0; relu_mask: the winner gets dy only when its value is > 0.
void max_pool_2x2_backward_row(float* d0, float* d1, const float* r0, const float* r1, const float* y,
                               const float* dy, int64_t OW, bool relu_mask);
void max_pool_2x2_backward_row(double* d0, double* d1, const double* r0, const double* r1, const double* y,
                               const double* dy, int64_t OW, bool relu_mask);

// The taps of a convolution over one padded plane: tap t reads x + off[t].
// out[k] = bias + w[0] * x[k + off[0]] + w[1] * x[k + off[1]] + ..., added in
// tap order (a multiply, then an add: no FMA); out and x disjoint.
void taps_axpy(float* out, const float* x, const float* w, const int64_t* off, int taps, float bias, int64_t n);
void taps_axpy(double* out, const double* x, const double* w, const int64_t* off, int taps, double bias, int64_t n);
// sums[t] = sum over k < n of g[k] * x[k + off[t]], each accumulated in 8
// interleaved partial sums (lane l takes k = l mod 8) added pairwise at the
// end: the order is fixed, whatever the clone.
void taps_dot(const float* g, const float* x, const int64_t* off, int taps, int64_t n, float* sums);
void taps_dot(const double* g, const double* x, const int64_t* off, int taps, int64_t n, double* sums);

// Adam/AdamW over n contiguous elements: trainrt::math::adam_update per element
// (bitwise equal to it: the same operations in the same order, no FMA). The
// scalars are adam_step's float_attrs in order; decoupled selects AdamW.
template <typename T> struct AdamScalars {
  T lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;
};
void adam(float* p, const float* g, float* m, float* v, int64_t n, const AdamScalars<float>& s);
void adam(double* p, const double* g, double* m, double* v, int64_t n, const AdamScalars<double>& s);

}  // namespace trt_cpu::simd
