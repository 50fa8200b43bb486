// Per-element math shared by the CPU and CUDA kernels (TRT_HD = host+device).
// The CPU kernels are the reference; CUDA kernels call the same functions, so a
// formula is written once. Also the counter-based random numbers: value i of a
// draw depends only on (seed, counter), never on thread order.
#pragma once
#include <cmath>
#include <cstdint>

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

}  // namespace trainrt::math
