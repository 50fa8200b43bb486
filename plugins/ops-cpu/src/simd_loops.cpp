// See simd_loops.h. Each function body is one template instantiated for float
// and double; TRT_SIMD_CLONES makes the AVX-512/AVX2/baseline copies. Built
// with -fno-math-errno (sqrt is then an instruction the loop can vectorise,
// not a libm call that may set errno) and -ffp-contract=off (CMakeLists.txt).
#include "simd_loops.h"

#include "trainrt/kernel_math.h"

#if defined(__x86_64__) && defined(__ELF__) && (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define TRT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TRT_SIMD_CLONES
#endif

namespace trt_cpu::simd {
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

template <typename T> inline void axpy_t(T* __restrict__ y, const T* __restrict__ x, T a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
template <typename T> inline T dot_t(const T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  T lane[32] = {};  // independent sums: several vector accumulators in flight
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 32; ++k) lane[k] += a[i + k] * b[i + k];
  for (int k = 0; i < n; ++i, ++k) lane[k] += a[i] * b[i];
  for (int width = 16; width >= 1; width /= 2)
    for (int k = 0; k < width; ++k) lane[k] += lane[k + width];
  return lane[0];
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

TRT_SIMD_CLONES void axpy(float* y, const float* x, float a, int64_t n) { axpy_t(y, x, a, n); }
TRT_SIMD_CLONES void axpy(double* y, const double* x, double a, int64_t n) { axpy_t(y, x, a, n); }
TRT_SIMD_CLONES float dot(const float* a, const float* b, int64_t n) { return dot_t(a, b, n); }
TRT_SIMD_CLONES double dot(const double* a, const double* b, int64_t n) { return dot_t(a, b, n); }
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
