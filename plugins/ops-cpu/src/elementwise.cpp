// Element-wise kernels: copy (with dtype conversion), fill, arange, binary
// arithmetic and comparisons, unary math and the activation backward helpers.
// Operands arrive expanded to the output's shape; strided_rows walks them.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernel_util.h"
#include "kernels.h"
#include "simd_loops.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
namespace {

template <typename To, typename From>
void copy_rows(const trt_tensor_view& dst, const trt_tensor_view& src, int threads) {
  To* d = data<To>(dst);
  const From* s = data<From>(src);
  strided_rows_parallel<2>(dst, {&dst, &src}, threads, [&](auto off, int64_t n, auto st) {
    To* dp = d + off[0];
    const From* sp = s + off[1];
    if (st[0] == 1 && st[1] == 1)
      for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<To>(sp[i]);
    else
      for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = static_cast<To>(sp[i * st[1]]);
  });
}

// copy: inputs [src], outputs [dst] (same shape; dtypes may differ)
trt_status copy_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& dst = a->outputs[0];
  const trt_tensor_view& src = a->inputs[0];
  TRT_CPU_DISPATCH_ALL(a, dst.dtype, {
    using To = scalar_t;
    TRT_CPU_DISPATCH_ALL(a, src.dtype, copy_rows<To, scalar_t>(dst, src, a->num_threads));
  });
  return TRT_OK;
}

// fill: outputs [t], float_attrs [value]
trt_status fill_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  TRT_CPU_DISPATCH_ALL(a, t.dtype, {
    scalar_t v = static_cast<scalar_t>(a->float_attrs[0]);
    scalar_t* p = data<scalar_t>(t);
    strided_rows_parallel<1>(t, {&t}, a->num_threads, [&](auto off, int64_t n, auto st) {
      for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = v;
    });
  });
  return TRT_OK;
}

// arange: outputs [t] (1-D), float_attrs [start, step]
trt_status arange_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  double start = a->float_attrs[0], step = a->float_attrs[1];
  TRT_CPU_DISPATCH_ALL(a, t.dtype, {
    scalar_t* p = data<scalar_t>(t);
    for (int64_t i = 0; i < t.sizes[0]; ++i) p[i * t.strides[0]] = static_cast<scalar_t>(start + step * static_cast<double>(i));
  });
  return TRT_OK;
}

// A contiguous loop of simd_loops.h for (T, O), or none.
template <typename T, typename O> using BinaryFast = void (*)(O*, const T*, const T*, int64_t);
template <typename T> using UnaryFast = void (*)(T*, const T*, int64_t);

// threads = 1 for kernels whose f has side effects (integer division's zero flag).
// fast (optional) runs contiguous rows whose operands are disjoint or identical.
template <typename T, typename O, typename F>
void binary_rows(const trt_kernel_args* a, F f, int threads, BinaryFast<T, O> fast = nullptr) {
  const trt_tensor_view& out = a->outputs[0];
  const trt_tensor_view& x = a->inputs[0];
  const trt_tensor_view& y = a->inputs[1];
  O* o = data<O>(out);
  const T* xp = data<T>(x);
  const T* yp = data<T>(y);
  strided_rows_parallel<3>(out, {&out, &x, &y}, threads, [&](auto off, int64_t n, auto st) {
    O* op = o + off[0];
    const T* ap = xp + off[1];
    const T* bp = yp + off[2];
    if constexpr (std::is_same_v<T, O>)
      if (fast && st[0] == 1 && st[1] == 1 && st[2] == 1 && simd::simd_ok(op, ap, n) && simd::simd_ok(op, bp, n)) {
        fast(op, ap, bp, n);
        return;
      }
    if (st[0] == 1 && st[1] == 1 && st[2] == 1)
      for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bp[i]);
    else if (st[0] == 1 && st[1] == 1 && st[2] == 0)
      for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bp[0]);
    else
      for (int64_t i = 0; i < n; ++i) op[i * st[0]] = f(ap[i * st[1]], bp[i * st[2]]);
  });
}

// Binary arithmetic: inputs [a, b] (same dtype, expanded), outputs [y] (same dtype).
#define TRT_BINARY(name, expr)                                                              \
  trt_status name##_kernel(const trt_kernel_args* a) {                                      \
    TRT_CPU_DISPATCH_ALL(a, a->outputs[0].dtype,                                            \
                         binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return static_cast<scalar_t>(expr); }, a->num_threads)); \
    return TRT_OK;                                                                          \
  }
TRT_BINARY(sub, x - y)
#undef TRT_BINARY

// The two with a vectorised contiguous loop (simd_loops.h) for floating types.
template <typename T> BinaryFast<T, T> fast_add() {
  if constexpr (std::is_floating_point_v<T>) return [](T* o, const T* x, const T* y, int64_t n) { simd::add(o, x, y, n); };
  else return nullptr;
}
template <typename T> BinaryFast<T, T> fast_mul() {
  if constexpr (std::is_floating_point_v<T>) return [](T* o, const T* x, const T* y, int64_t n) { simd::mul(o, x, y, n); };
  else return nullptr;
}
trt_status add_kernel(const trt_kernel_args* a) {
  TRT_CPU_DISPATCH_ALL(a, a->outputs[0].dtype,
                       binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return static_cast<scalar_t>(x + y); },
                                                        a->num_threads, fast_add<scalar_t>()));
  return TRT_OK;
}
trt_status mul_kernel(const trt_kernel_args* a) {
  TRT_CPU_DISPATCH_ALL(a, a->outputs[0].dtype,
                       binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return static_cast<scalar_t>(x * y); },
                                                        a->num_threads, fast_mul<scalar_t>()));
  return TRT_OK;
}

#define TRT_BINARY(name, expr)                                                              \
  trt_status name##_kernel(const trt_kernel_args* a) {                                      \
    TRT_CPU_DISPATCH_ALL(a, a->outputs[0].dtype,                                            \
                         binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return static_cast<scalar_t>(expr); }, a->num_threads)); \
    return TRT_OK;                                                                          \
  }
TRT_BINARY(maximum, x >= y ? x : y)
#undef TRT_BINARY

trt_status div_kernel(const trt_kernel_args* a) {
  if (a->outputs[0].dtype == TRT_INT64 || a->outputs[0].dtype == TRT_UINT8) {
    bool zero = false;
    TRT_CPU_DISPATCH_ALL(a, a->outputs[0].dtype, binary_rows<scalar_t, scalar_t>(a, [&](scalar_t x, scalar_t y) {
      if (y == 0) { zero = true; return scalar_t(0); }
      // INT64_MIN / -1 overflows and traps (SIGFPE); its wrapped result is INT64_MIN itself.
      if (y == scalar_t(-1) && x < 0 && x == std::numeric_limits<scalar_t>::lowest()) return x;
      return static_cast<scalar_t>(x / y);
    }, /*threads=*/1));
    if (zero) return fail(a, TRT_ERR_INVALID_ARGUMENT, "div: integer division by zero");
    return TRT_OK;
  }
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return x / y; }, a->num_threads));
  return TRT_OK;
}

trt_status pow_kernel(const trt_kernel_args* a) {
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         binary_rows<scalar_t, scalar_t>(a, [](scalar_t x, scalar_t y) { return std::pow(x, y); }, a->num_threads));
  return TRT_OK;
}

// Comparisons: inputs [a, b] (same dtype), outputs [y] uint8 0/1.
#define TRT_COMPARE(name, op)                                                                    \
  trt_status name##_kernel(const trt_kernel_args* a) {                                           \
    TRT_CPU_DISPATCH_ALL(a, a->inputs[0].dtype,                                                  \
                         binary_rows<scalar_t, uint8_t>(a, [](scalar_t x, scalar_t y) { return uint8_t(x op y); }, a->num_threads)); \
    return TRT_OK;                                                                               \
  }
TRT_COMPARE(eq, ==)
TRT_COMPARE(ne, !=)
TRT_COMPARE(lt, <)
TRT_COMPARE(le, <=)
TRT_COMPARE(gt, >)
TRT_COMPARE(ge, >=)
#undef TRT_COMPARE

template <typename T, typename F> void unary_rows(const trt_kernel_args* a, F f, UnaryFast<T> fast = nullptr) {
  const trt_tensor_view& out = a->outputs[0];
  const trt_tensor_view& x = a->inputs[0];
  T* o = data<T>(out);
  const T* xp = data<T>(x);
  strided_rows_parallel<2>(out, {&out, &x}, a->num_threads, [&](auto off, int64_t n, auto st) {
    if (fast && st[0] == 1 && st[1] == 1 && simd::simd_ok(o + off[0], xp + off[1], n))
      fast(o + off[0], xp + off[1], n);
    else if (st[0] == 1 && st[1] == 1)
      for (int64_t i = 0; i < n; ++i) o[off[0] + i] = f(xp[off[1] + i]);
    else
      for (int64_t i = 0; i < n; ++i) o[off[0] + i * st[0]] = f(xp[off[1] + i * st[1]]);
  });
}

// Unary math: inputs [x], outputs [y] (same dtype; floating except neg/abs).
#define TRT_UNARY(name, dispatch, expr)                                                              \
  trt_status name##_kernel(const trt_kernel_args* a) {                                               \
    dispatch(a, a->outputs[0].dtype, unary_rows<scalar_t>(a, [](scalar_t x) { return static_cast<scalar_t>(expr); })); \
    return TRT_OK;                                                                                   \
  }
TRT_UNARY(neg, TRT_CPU_DISPATCH_ALL, -x)
TRT_UNARY(abs, TRT_CPU_DISPATCH_FLOAT, std::abs(x))
TRT_UNARY(exp, TRT_CPU_DISPATCH_FLOAT, std::exp(x))
TRT_UNARY(log, TRT_CPU_DISPATCH_FLOAT, std::log(x))
TRT_UNARY(sqrt, TRT_CPU_DISPATCH_FLOAT, std::sqrt(x))
TRT_UNARY(sigmoid, TRT_CPU_DISPATCH_FLOAT, trainrt::math::sigmoid(x))
TRT_UNARY(tanh, TRT_CPU_DISPATCH_FLOAT, std::tanh(x))
TRT_UNARY(round_bf16, TRT_CPU_DISPATCH_FLOAT, trainrt::math::round_bf16(x))
#undef TRT_UNARY

// relu: the same formula (trainrt::math::relu, NaN -> 0), vectorised when contiguous.
trt_status relu_kernel(const trt_kernel_args* a) {
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         unary_rows<scalar_t>(a, [](scalar_t x) { return trainrt::math::relu(x); },
                                              [](scalar_t* o, const scalar_t* x, int64_t n) { simd::relu(o, x, n); }));
  return TRT_OK;
}

// Activation backward: inputs [dy, saved], outputs [dx]; saved is x (relu) or y.
#define TRT_ACT_BACKWARD(name, fn)                                                                   \
  trt_status name##_kernel(const trt_kernel_args* a) {                                               \
    TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,                                                   \
                           binary_rows<scalar_t, scalar_t>(a, [](scalar_t dy, scalar_t s) { return fn(dy, s); }, a->num_threads)); \
    return TRT_OK;                                                                                   \
  }
TRT_ACT_BACKWARD(sigmoid_backward, trainrt::math::sigmoid_backward)
TRT_ACT_BACKWARD(tanh_backward, trainrt::math::tanh_backward)
#undef TRT_ACT_BACKWARD

trt_status relu_backward_kernel(const trt_kernel_args* a) {
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype,
                         binary_rows<scalar_t, scalar_t>(
                             a, [](scalar_t dy, scalar_t s) { return trainrt::math::relu_backward(dy, s); },
                             a->num_threads,
                             [](scalar_t* o, const scalar_t* dy, const scalar_t* x, int64_t n) {
                               simd::relu_backward(o, dy, x, n);
                             }));
  return TRT_OK;
}

}  // namespace

bool register_elementwise(const trt_host_api* host) {
  struct {
    const char* op;
    trt_kernel_fn fn;
  } table[] = {{"copy", copy_kernel},       {"fill", fill_kernel},     {"arange", arange_kernel},
               {"add", add_kernel},         {"sub", sub_kernel},       {"mul", mul_kernel},
               {"div", div_kernel},         {"pow", pow_kernel},       {"maximum", maximum_kernel},
               {"eq", eq_kernel},           {"ne", ne_kernel},         {"lt", lt_kernel},
               {"le", le_kernel},           {"gt", gt_kernel},         {"ge", ge_kernel},
               {"neg", neg_kernel},         {"abs", abs_kernel},       {"exp", exp_kernel},
               {"log", log_kernel},         {"sqrt", sqrt_kernel},     {"relu", relu_kernel},
               {"sigmoid", sigmoid_kernel}, {"tanh", tanh_kernel},     {"relu_backward", relu_backward_kernel},
               {"sigmoid_backward", sigmoid_backward_kernel},          {"tanh_backward", tanh_backward_kernel},
               {"round_bf16", round_bf16_kernel},                      {"elementwise_chain", elementwise_chain_kernel}};
  for (const auto& k : table)
    if (!add_kernel(host, k.op, k.fn)) return false;
  return true;
}

}  // namespace trt_cpu
