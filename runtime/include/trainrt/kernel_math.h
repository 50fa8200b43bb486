// Per-element math shared by the CPU and CUDA kernels (TRT_HD = host+device).
// The CPU kernels are the reference; CUDA kernels call the same functions, so a
// formula is written once. Also the counter-based random numbers: value i of a
// draw depends only on (seed, counter), never on thread order.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define TRT_HD __host__ __device__ __forceinline__
#else
#define TRT_HD inline
#endif

namespace trainrt::math {

// forward: y = max(x, 0)  =>  dx = dy * (x > 0)
template <typename T> TRT_HD T relu(T x) { return x > T(0) ? x : T(0); }
template <typename T> TRT_HD T relu_backward(T dy, T x) { return x > T(0) ? dy : T(0); }

// forward: y = 1 / (1 + exp(-x))  =>  dx = dy * y * (1 - y)
template <typename T> TRT_HD T sigmoid(T x) {
  return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}
template <typename T> TRT_HD T sigmoid_backward(T dy, T y) { return dy * y * (T(1) - y); }

// forward: y = tanh(x)  =>  dx = dy * (1 - y^2)
template <typename T> TRT_HD T tanh_backward(T dy, T y) { return dy * (T(1) - y * y); }

// The bfloat16 nearest to x (ties to even), kept in a float: the value a bf16
// tensor would hold (8 significant bits, float32's exponent range). NaN stays
// NaN (made quiet), infinities stay; a finite value past bf16's largest
// rounds to infinity, as a conversion does.
TRT_HD float round_to_bfloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    if (bits & 0x007fffffu) bits |= 0x00400000u;
  } else {
    bits += 0x7fffu + ((bits >> 16) & 1u);
  }
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}
template <typename T> TRT_HD T round_bf16(T x) { return static_cast<T>(round_to_bfloat16(static_cast<float>(x))); }

// SplitMix64 finaliser: a strong 64-bit mix, used as a counter-based generator.
TRT_HD uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 53 random bits, from (seed, counter).
TRT_HD double uniform01(uint64_t seed, uint64_t counter) {
  uint64_t bits = mix64(seed * 0xD1B54A32D192ED03ull ^ mix64(counter));
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

// Standard normal by Box-Muller from two uniforms of counters 2i and 2i+1.
TRT_HD double normal01(uint64_t seed, uint64_t index) {
  double u1 = uniform01(seed, 2 * index);
  double u2 = uniform01(seed, 2 * index + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// ---- softmax family (the row reductions max / sum run in the kernel) ----
// forward: y = x - max - log(sum(exp(x - max)))  =>  dx = dy - exp(y) * sum(dy)
template <typename T> TRT_HD T log_softmax_backward(T dy, T y, T sum_dy) { return dy - std::exp(y) * sum_dy; }
// forward: y = exp(x - max) / sum(exp(x - max))  =>  dx = y * (dy - sum(dy * y))
template <typename T> TRT_HD T softmax_backward(T dy, T y, T sum_dy_y) { return y * (dy - sum_dy_y); }

// ---- dropout ----
// Mask value of one element from its uniform draw u in [0, 1): kept with
// probability 1 - p and scaled by 1 / (1 - p) so the expectation is unchanged.
TRT_HD double dropout_mask(double u, double p) { return u >= p ? 1.0 / (1.0 - p) : 0.0; }

// ---- optimizers (torch.optim formulas, one element at a time) ----
// SGD with weight decay, momentum, dampening and Nesterov:
//   g = grad + wd * p
//   buf = first_step ? g : momentum * buf + (1 - dampening) * g     (momentum != 0)
//   g = nesterov ? g + momentum * buf : buf                          (momentum != 0)
//   p = p - lr * g
template <typename T>
TRT_HD void sgd_update(T& p, T grad, T* buf, T lr, T momentum, T dampening, T weight_decay, bool nesterov,
                       bool first_step) {
  T g = grad;
  if (weight_decay != T(0)) g += weight_decay * p;
  if (momentum != T(0)) {
    T b = first_step ? g : momentum * *buf + (T(1) - dampening) * g;
    *buf = b;
    g = nesterov ? g + momentum * b : b;
  }
  p -= lr * g;
}

// Adam / AdamW. bias_correction1 = 1 - beta1^step, bias_correction2 = 1 - beta2^step.
//   AdamW (decoupled): p = p * (1 - lr * wd);  Adam: g = grad + wd * p
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
//   p = p - (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
template <typename T>
TRT_HD void adam_update(T& p, T grad, T& m, T& v, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled,
                        T bias_correction1, T bias_correction2) {
  T g = grad;
  if (weight_decay != T(0)) {
    if (decoupled) p *= T(1) - lr * weight_decay;
    else g += weight_decay * p;
  }
  m = beta1 * m + (T(1) - beta1) * g;
  v = beta2 * v + (T(1) - beta2) * g * g;
  T denom = std::sqrt(v) / std::sqrt(bias_correction2) + eps;
  p -= (lr / bias_correction1) * m / denom;
}

}  // namespace trainrt::math
