// See simd_loops.h. Each function body is one template instantiated for float
// and double; TRT_SIMD_CLONES makes the AVX-512/AVX2/baseline copies. Built
// with -fno-math-errno (sqrt is then an instruction the loop can vectorise,
// not a libm call that may set errno) and -ffp-contract=off (CMakeLists.txt).
#include "simd_loops.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "trainrt/kernel_math.h"

#if defined(__x86_64__) && defined(__ELF__) && (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define TRT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TRT_SIMD_CLONES
#endif

namespace trt_cpu::simd {

// Eight floats, for the loops written with explicit vectors.
typedef float v8f __attribute__((vector_size(32)));
#ifdef __clang__
#define TRT_SHUFFLE8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef int v8i __attribute__((vector_size(32)));
#define TRT_SHUFFLE8(a, b, ...) __builtin_shuffle(a, b, v8i{__VA_ARGS__})
#endif
namespace {

template <typename T> inline void relu_t(T* __restrict__ y, const T* __restrict__ x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = trainrt::math::relu(x[i]);  // x > 0 ? x : 0 (NaN -> 0)
}
template <typename T>
inline void relu_backward_t(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = trainrt::math::relu_backward(dy[i], x[i]);
}
template <typename T> inline void add_t(T* __restrict__ y, const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
template <typename T> inline void mul_t(T* __restrict__ y, const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

template <typename T>
inline bool max_pool_2x2_row_t(T* __restrict__ out, const T* __restrict__ r0, const T* __restrict__ r1, int64_t OW) {
  int nan_seen = 0;
  for (int64_t ow = 0; ow < OW; ++ow) {
    T a = r0[2 * ow], b = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1];
    nan_seen |= (a != a) | (b != b) | (d != d) | (e != e);
    T m0 = b > a ? b : a, m1 = e > d ? e : d;
    out[ow] = m1 > m0 ? m1 : m0;
  }
  return nan_seen != 0;
}

template <typename T>
inline void max_pool_2x2_backward_row_t(T* __restrict__ d0, T* __restrict__ d1, const T* __restrict__ r0,
                                        const T* __restrict__ r1, const T* __restrict__ yr,
                                        const T* __restrict__ gr, int64_t OW, bool relu_mask) {
  for (int64_t ow = 0; ow < OW; ++ow) {
    T y_ = yr[ow], g_ = gr[ow];
    T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], e = r1[2 * ow + 1];
    bool y_nan = y_ != y_;
    bool wa = (a == y_) | ((a != a) & y_nan);
    bool wb = (!wa) & ((b == y_) | ((b != b) & y_nan));
    bool wc = (!(wa | wb)) & ((c == y_) | ((c != c) & y_nan));
    bool we = !(wa | wb | wc);
    if (relu_mask) {
      wa &= a > T(0);
      wb &= b > T(0);
      wc &= c > T(0);
      we &= e > T(0);
    }
    d0[2 * ow] = wa ? g_ : T(0);
    d0[2 * ow + 1] = wb ? g_ : T(0);
    d1[2 * ow] = wc ? g_ : T(0);
    d1[2 * ow + 1] = we ? g_ : T(0);
  }
}

// MaxPool2d(2) on one channel block's tile (H, W, 8), exactly tiled (H = 2 OH,
// W = 2 OW): each lane is a channel, so the loops run across channels. The
// same winners as the plane functions above: the sequential first-greater (or
// first NaN) rule of the window's elements in row order.
template <typename T> inline bool replaces_t(T candidate, T best) {
  return (candidate > best) | ((candidate != candidate) & (best == best));
}
// Pairwise maxima (as max_pool_2x2_row_t), eight lanes at a time; a tile
// holding a NaN is done again with the sequential rule.
template <typename T> inline bool max_pool_2x2_tile_fast(T* __restrict__ y, const T* __restrict__ x, int64_t OH,
                                                         int64_t OW) {
  const int64_t row = 2 * OW * 8;
  int nan_seen = 0;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T* a = x + 2 * oh * row + 2 * ow * 8;
      const T *b = a + 8, *c = a + row, *e = c + 8;
      T* out = y + (oh * OW + ow) * 8;
      for (int l = 0; l < 8; ++l) {
        nan_seen |= (a[l] != a[l]) | (b[l] != b[l]) | (c[l] != c[l]) | (e[l] != e[l]);
        T m0 = b[l] > a[l] ? b[l] : a[l], m1 = e[l] > c[l] ? e[l] : c[l];
        out[l] = m1 > m0 ? m1 : m0;
      }
    }
  return nan_seen != 0;
}
// float: the same with explicit 8-float vectors (GCC left the generic loop half scalar).
template <> __attribute__((always_inline)) inline bool max_pool_2x2_tile_fast(float* __restrict__ y,
                                                                               const float* __restrict__ x,
                                                                               int64_t OH, int64_t OW) {
  typedef int v8m __attribute__((vector_size(32)));
  const int64_t row = 2 * OW * 8;
  v8m nan_seen{};
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const float* a = x + 2 * oh * row + 2 * ow * 8;
      v8f va, vb, vc, ve;
      std::memcpy(&va, a, sizeof va);
      std::memcpy(&vb, a + 8, sizeof vb);
      std::memcpy(&vc, a + row, sizeof vc);
      std::memcpy(&ve, a + row + 8, sizeof ve);
      nan_seen |= (va != va) | (vb != vb) | (vc != vc) | (ve != ve);
      v8f m0 = vb > va ? vb : va, m1 = ve > vc ? ve : vc;
      v8f m = m1 > m0 ? m1 : m0;
      std::memcpy(y + (oh * OW + ow) * 8, &m, sizeof m);
    }
  int any = 0;
  for (int l = 0; l < 8; ++l) any |= nan_seen[l];
  return any != 0;
}
template <typename T>
inline void max_pool_2x2_tile_t(T* __restrict__ y, const T* __restrict__ x, int64_t OH, int64_t OW) {
  if (!max_pool_2x2_tile_fast(y, x, OH, OW)) return;
  const int64_t row = 2 * OW * 8;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T* a = x + 2 * oh * row + 2 * ow * 8;
      const T *b = a + 8, *c = a + row, *e = c + 8;
      T* out = y + (oh * OW + ow) * 8;
      for (int l = 0; l < 8; ++l) {
        T m = a[l];
        if (replaces_t(b[l], m)) m = b[l];
        if (replaces_t(c[l], m)) m = c[l];
        if (replaces_t(e[l], m)) m = e[l];
        out[l] = m;
      }
    }
}
template <typename T, bool relu_mask>
inline void max_pool_2x2_backward_tile_t(T* __restrict__ dx, const T* __restrict__ x, const T* __restrict__ y,
                                         const T* __restrict__ dy, int64_t OH, int64_t OW) {
  const int64_t row = 2 * OW * 8;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t at = 2 * oh * row + 2 * ow * 8;
      const T *a = x + at, *b = a + 8, *c = a + row, *e = c + 8;
      T *da = dx + at, *db = da + 8, *dc = da + row, *de = dc + 8;
      const T *yv = y + (oh * OW + ow) * 8, *gv = dy + (oh * OW + ow) * 8;
      for (int l = 0; l < 8; ++l) {
        T y_ = yv[l], g_ = gv[l];
        bool y_nan = y_ != y_;
        bool wa = (a[l] == y_) | ((a[l] != a[l]) & y_nan);
        bool wb = (!wa) & ((b[l] == y_) | ((b[l] != b[l]) & y_nan));
        bool wc = (!(wa | wb)) & ((c[l] == y_) | ((c[l] != c[l]) & y_nan));
        bool we = !(wa | wb | wc);
        if (relu_mask) {
          wa &= a[l] > T(0);
          wb &= b[l] > T(0);
          wc &= c[l] > T(0);
          we &= e[l] > T(0);
        }
        da[l] = wa ? g_ : T(0);
        db[l] = wb ? g_ : T(0);
        dc[l] = wc ? g_ : T(0);
        de[l] = we ? g_ : T(0);
      }
    }
}

// Convolution taps over one padded plane (conv_direct.cpp): tap t reads x
// shifted by off[t]. The forward sums every tap into a register per element,
// in tap order; the weight gradient's dot products share each load of g.
template <typename T>
__attribute__((always_inline)) inline void taps_axpy_scalar(T* __restrict__ out, const T* __restrict__ x, const T* w,
                                                            const int64_t* off, int taps, T bias, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    T s = bias;
    for (int t = 0; t < taps; ++t) s += w[t] * x[k + off[t]];
    out[k] = s;
  }
}
// float: 8 outputs per vector, the rest as above.
__attribute__((always_inline)) inline void taps_axpy_float(float* __restrict__ out, const float* __restrict__ x,
                                                           const float* w, const int64_t* off, int taps, float bias,
                                                           int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    v8f s = v8f{} + bias;
    for (int t = 0; t < taps; ++t) {
      v8f xv;
      std::memcpy(&xv, x + k + off[t], sizeof xv);
      s += w[t] * xv;
    }
    std::memcpy(out + k, &s, sizeof s);
  }
  taps_axpy_scalar(out + k, x + k, w, off, taps, bias, n - k);
}

// Lane l of a tap's sum takes elements k = l mod 8; the eight lanes are then
// added pairwise (l + 4, l + 2, l + 1): a fixed order for every clone.
template <typename T>
__attribute__((always_inline)) inline T reduce_lanes(T* lane) {
  for (int width = 4; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
  return lane[0];
}
template <typename T>
__attribute__((always_inline)) inline void taps_dot_t(const T* __restrict__ g, const T* __restrict__ x,
                                                      const int64_t* off, int taps, int64_t n, T* sums) {
  for (int t = 0; t < taps; ++t) {
    T lane[8] = {};
    for (int64_t k = 0; k < n; ++k) lane[k % 8] += g[k] * x[k + off[t]];
    sums[t] = reduce_lanes(lane);
  }
}
// float: up to 9 taps per pass over g, one vector accumulator each.
template <int kTaps>
__attribute__((always_inline)) inline void taps_dot_group(const float* __restrict__ g, const float* __restrict__ x,
                                                          const int64_t* off, int64_t n, float* sums) {
  v8f acc[kTaps] = {};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    v8f gv;
    std::memcpy(&gv, g + k, sizeof gv);
    for (int t = 0; t < kTaps; ++t) {
      v8f xv;
      std::memcpy(&xv, x + k + off[t], sizeof xv);
      acc[t] += gv * xv;
    }
  }
  for (int t = 0; t < kTaps; ++t) {
    float lane[8];
    std::memcpy(lane, &acc[t], sizeof lane);
    for (int64_t i = k; i < n; ++i) lane[i % 8] += g[i] * x[i + off[t]];
    sums[t] = reduce_lanes(lane);
  }
}
template <>
__attribute__((always_inline)) inline void taps_dot_t(const float* __restrict__ g, const float* __restrict__ x,
                                                      const int64_t* off, int taps, int64_t n, float* sums) {
  for (int t0 = 0; t0 < taps; t0 += 9) {
    switch (std::min(taps - t0, 9)) {
      case 1:
        taps_dot_group<1>(g, x, off + t0, n, sums + t0);
        break;
      case 2:
        taps_dot_group<2>(g, x, off + t0, n, sums + t0);
        break;
      case 3:
        taps_dot_group<3>(g, x, off + t0, n, sums + t0);
        break;
      case 4:
        taps_dot_group<4>(g, x, off + t0, n, sums + t0);
        break;
      case 5:
        taps_dot_group<5>(g, x, off + t0, n, sums + t0);
        break;
      case 6:
        taps_dot_group<6>(g, x, off + t0, n, sums + t0);
        break;
      case 7:
        taps_dot_group<7>(g, x, off + t0, n, sums + t0);
        break;
      case 8:
        taps_dot_group<8>(g, x, off + t0, n, sums + t0);
        break;
      default:
        taps_dot_group<9>(g, x, off + t0, n, sums + t0);
        break;
    }
  }
}

// Weight decay as a template argument (0: none, 1: L2 into the gradient, 2:
// decoupled) so each loop is branch-free; sqrt(bias_correction2) and
// lr / bias_correction1 are loop invariants the compiler hoists.
template <typename T, int kDecay>
inline void adam_t(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v, int64_t n,
                   const AdamScalars<T>& s) {
  const T lr = s.lr, beta1 = s.beta1, beta2 = s.beta2, eps = s.eps, wd = kDecay ? s.weight_decay : T(0);
  const T bc1 = s.bias_correction1, bc2 = s.bias_correction2;
  for (int64_t i = 0; i < n; ++i)
    trainrt::math::adam_update(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps, wd, kDecay == 2, bc1, bc2);
}
template <typename T>
inline void adam_dispatch(T* p, const T* g, T* m, T* v, int64_t n, const AdamScalars<T>& s) {
  if (s.weight_decay == T(0)) adam_t<T, 0>(p, g, m, v, n, s);
  else if (s.decoupled) adam_t<T, 2>(p, g, m, v, n, s);
  else adam_t<T, 1>(p, g, m, v, n, s);
}

}  // namespace

TRT_SIMD_CLONES void taps_axpy(float* out, const float* x, const float* w, const int64_t* off, int taps, float bias,
                                int64_t n) {
  taps_axpy_float(out, x, w, off, taps, bias, n);
}
TRT_SIMD_CLONES void taps_axpy(double* out, const double* x, const double* w, const int64_t* off, int taps,
                                double bias, int64_t n) {
  taps_axpy_scalar(out, x, w, off, taps, bias, n);
}
TRT_SIMD_CLONES void taps_dot(const float* g, const float* x, const int64_t* off, int taps, int64_t n, float* sums) {
  taps_dot_t(g, x, off, taps, n, sums);
}
TRT_SIMD_CLONES void taps_dot(const double* g, const double* x, const int64_t* off, int taps, int64_t n,
                               double* sums) {
  taps_dot_t(g, x, off, taps, n, sums);
}
TRT_SIMD_CLONES void adam(float* p, const float* g, float* m, float* v, int64_t n, const AdamScalars<float>& s) {
  adam_dispatch(p, g, m, v, n, s);
}
TRT_SIMD_CLONES void adam(double* p, const double* g, double* m, double* v, int64_t n, const AdamScalars<double>& s) {
  adam_dispatch(p, g, m, v, n, s);
}
TRT_SIMD_CLONES void relu(float* y, const float* x, int64_t n) { relu_t(y, x, n); }
TRT_SIMD_CLONES void relu(double* y, const double* x, int64_t n) { relu_t(y, x, n); }
TRT_SIMD_CLONES void relu_backward(float* dx, const float* dy, const float* x, int64_t n) { relu_backward_t(dx, dy, x, n); }
TRT_SIMD_CLONES void relu_backward(double* dx, const double* dy, const double* x, int64_t n) {
  relu_backward_t(dx, dy, x, n);
}
TRT_SIMD_CLONES void add(float* y, const float* a, const float* b, int64_t n) { add_t(y, a, b, n); }
TRT_SIMD_CLONES void add(double* y, const double* a, const double* b, int64_t n) { add_t(y, a, b, n); }
TRT_SIMD_CLONES void mul(float* y, const float* a, const float* b, int64_t n) { mul_t(y, a, b, n); }
TRT_SIMD_CLONES void mul(double* y, const double* a, const double* b, int64_t n) { mul_t(y, a, b, n); }
// The tile <-> planes reorders as 8x8 transposes of float vectors (GCC vector
// extensions: three rounds of two-vector shuffles), the rows left over when
// hw % 8 != 0 and float64 element by element.

// out[c][k] = in[k][c] for the 8x8 block whose rows start at in + k * in_stride.
// Named values rather than arrays, so that all of it stays in registers.
__attribute__((always_inline)) inline void transpose8x8(const float* in, int64_t in_stride, float* out,
                                                         int64_t out_stride) {
  v8f r0, r1, r2, r3, r4, r5, r6, r7;
  std::memcpy(&r0, in, sizeof(v8f));
  std::memcpy(&r1, in + in_stride, sizeof(v8f));
  std::memcpy(&r2, in + 2 * in_stride, sizeof(v8f));
  std::memcpy(&r3, in + 3 * in_stride, sizeof(v8f));
  std::memcpy(&r4, in + 4 * in_stride, sizeof(v8f));
  std::memcpy(&r5, in + 5 * in_stride, sizeof(v8f));
  std::memcpy(&r6, in + 6 * in_stride, sizeof(v8f));
  std::memcpy(&r7, in + 7 * in_stride, sizeof(v8f));
  // Pairs of rows interleaved, then pairs of pairs: s0 = rows 0-3 of columns 0 and 4, ...
  v8f t0 = TRT_SHUFFLE8(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = TRT_SHUFFLE8(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
  v8f t2 = TRT_SHUFFLE8(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = TRT_SHUFFLE8(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
  v8f t4 = TRT_SHUFFLE8(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = TRT_SHUFFLE8(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
  v8f t6 = TRT_SHUFFLE8(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = TRT_SHUFFLE8(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
  v8f s0 = TRT_SHUFFLE8(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), s1 = TRT_SHUFFLE8(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  v8f s2 = TRT_SHUFFLE8(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), s3 = TRT_SHUFFLE8(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
  v8f s4 = TRT_SHUFFLE8(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), s5 = TRT_SHUFFLE8(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
  v8f s6 = TRT_SHUFFLE8(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), s7 = TRT_SHUFFLE8(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
  v8f c0 = TRT_SHUFFLE8(s0, s4, 0, 1, 2, 3, 8, 9, 10, 11), c4 = TRT_SHUFFLE8(s0, s4, 4, 5, 6, 7, 12, 13, 14, 15);
  v8f c1 = TRT_SHUFFLE8(s1, s5, 0, 1, 2, 3, 8, 9, 10, 11), c5 = TRT_SHUFFLE8(s1, s5, 4, 5, 6, 7, 12, 13, 14, 15);
  v8f c2 = TRT_SHUFFLE8(s2, s6, 0, 1, 2, 3, 8, 9, 10, 11), c6 = TRT_SHUFFLE8(s2, s6, 4, 5, 6, 7, 12, 13, 14, 15);
  v8f c3 = TRT_SHUFFLE8(s3, s7, 0, 1, 2, 3, 8, 9, 10, 11), c7 = TRT_SHUFFLE8(s3, s7, 4, 5, 6, 7, 12, 13, 14, 15);
  std::memcpy(out, &c0, sizeof(v8f));
  std::memcpy(out + out_stride, &c1, sizeof(v8f));
  std::memcpy(out + 2 * out_stride, &c2, sizeof(v8f));
  std::memcpy(out + 3 * out_stride, &c3, sizeof(v8f));
  std::memcpy(out + 4 * out_stride, &c4, sizeof(v8f));
  std::memcpy(out + 5 * out_stride, &c5, sizeof(v8f));
  std::memcpy(out + 6 * out_stride, &c6, sizeof(v8f));
  std::memcpy(out + 7 * out_stride, &c7, sizeof(v8f));
}

template <typename T>
__attribute__((always_inline)) inline void tile_to_planes_t(const T* tile, T* planes, int64_t hw) {
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>)
    for (; k + 8 <= hw; k += 8) transpose8x8(tile + 8 * k, 8, planes + k, hw);
  for (; k < hw; ++k)
    for (int64_t c = 0; c < 8; ++c) planes[c * hw + k] = tile[8 * k + c];
}
template <typename T>
__attribute__((always_inline)) inline void planes_to_tile_t(const T* planes, T* tile, int64_t hw) {
  int64_t k = 0;
  if constexpr (std::is_same_v<T, float>)
    for (; k + 8 <= hw; k += 8) transpose8x8(planes + k, hw, tile + 8 * k, 8);
  for (; k < hw; ++k)
    for (int64_t c = 0; c < 8; ++c) tile[8 * k + c] = planes[c * hw + k];
}
TRT_SIMD_CLONES void tile_to_planes(const float* tile, float* planes, int64_t hw) {
  tile_to_planes_t(tile, planes, hw);
}
TRT_SIMD_CLONES void tile_to_planes(const double* tile, double* planes, int64_t hw) {
  tile_to_planes_t(tile, planes, hw);
}
TRT_SIMD_CLONES void planes_to_tile(const float* planes, float* tile, int64_t hw) {
  planes_to_tile_t(planes, tile, hw);
}
TRT_SIMD_CLONES void planes_to_tile(const double* planes, double* tile, int64_t hw) {
  planes_to_tile_t(planes, tile, hw);
}

TRT_SIMD_CLONES void max_pool_2x2_tile(float* y, const float* x, int64_t OH, int64_t OW) {
  max_pool_2x2_tile_t(y, x, OH, OW);
}
TRT_SIMD_CLONES void max_pool_2x2_tile(double* y, const double* x, int64_t OH, int64_t OW) {
  max_pool_2x2_tile_t(y, x, OH, OW);
}
TRT_SIMD_CLONES void max_pool_2x2_backward_tile(float* dx, const float* x, const float* y, const float* dy, int64_t OH,
                                                int64_t OW, bool relu_mask) {
  if (relu_mask) max_pool_2x2_backward_tile_t<float, true>(dx, x, y, dy, OH, OW);
  else max_pool_2x2_backward_tile_t<float, false>(dx, x, y, dy, OH, OW);
}
TRT_SIMD_CLONES void max_pool_2x2_backward_tile(double* dx, const double* x, const double* y, const double* dy,
                                                int64_t OH, int64_t OW, bool relu_mask) {
  if (relu_mask) max_pool_2x2_backward_tile_t<double, true>(dx, x, y, dy, OH, OW);
  else max_pool_2x2_backward_tile_t<double, false>(dx, x, y, dy, OH, OW);
}

TRT_SIMD_CLONES bool max_pool_2x2_row(float* out, const float* r0, const float* r1, int64_t OW) {
  return max_pool_2x2_row_t(out, r0, r1, OW);
}
TRT_SIMD_CLONES bool max_pool_2x2_row(double* out, const double* r0, const double* r1, int64_t OW) {
  return max_pool_2x2_row_t(out, r0, r1, OW);
}
TRT_SIMD_CLONES void max_pool_2x2_backward_row(float* d0, float* d1, const float* r0, const float* r1, const float* y,
                                               const float* dy, int64_t OW, bool relu_mask) {
  if (relu_mask) max_pool_2x2_backward_row_t(d0, d1, r0, r1, y, dy, OW, true);
  else max_pool_2x2_backward_row_t(d0, d1, r0, r1, y, dy, OW, false);
}
TRT_SIMD_CLONES void max_pool_2x2_backward_row(double* d0, double* d1, const double* r0, const double* r1,
                                               const double* y, const double* dy, int64_t OW, bool relu_mask) {
  if (relu_mask) max_pool_2x2_backward_row_t(d0, d1, r0, r1, y, dy, OW, true);
  else max_pool_2x2_backward_row_t(d0, d1, r0, r1, y, dy, OW, false);
}

}  // namespace trt_cpu::simd
