// Element-wise CUDA kernels: copy (with dtype conversion), fill, arange, binary
// arithmetic and comparisons, unary math and the activation backward helpers.
// CUDA twin of ops-cpu/src/elementwise.cpp: same names, dtypes and messages.
// One grid-stride loop per op; operands arrive expanded to the output's shape.
#include <cstdint>
#include <type_traits>

#include "kernel_util.cuh"
#include "kernels.h"
#include "reduce_util.cuh"

namespace trt_cuda {
namespace {

using trainrt::math::relu;
using trainrt::math::sigmoid;

// True when every operand steps through memory as the row-major logical index:
// then element i is at offset i of each, and the kernels skip StridedOffsets.
template <int K> bool all_contiguous(const trt_tensor_view* const (&ops)[K]) {
  for (const trt_tensor_view* v : ops)
    if (!is_contiguous(*v)) return false;
  return true;
}

// ---- map kernels: y = f(x) and y = f(a, b), for any strides ----

// y: (shape), x: (shape) with its own strides (0 = broadcast)
template <bool Contig, typename To, typename From, typename F>
__global__ void map1(StridedOffsets<2> s, int64_t n, To* y, const From* x, F f) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    if (Contig) y[i] = f(x[i]);
    else y[s.offset(i, 0)] = f(x[s.offset(i, 1)]);
  }
}

// y: (shape), a, b: (shape) with their own strides
template <bool Contig, typename O, typename T, typename F>
__global__ void map2(StridedOffsets<3> s, int64_t n, O* y, const T* a, const T* b, F f) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    if (Contig) y[i] = f(a[i], b[i]);
    else y[s.offset(i, 0)] = f(a[s.offset(i, 1)], b[s.offset(i, 2)]);
  }
}

// out = f(in) element-wise; out's shape rules, in is expanded to it.
template <typename To, typename From, typename F>
trt_status launch_map1(const trt_kernel_args* a, const char* op, const trt_tensor_view& out,
                       const trt_tensor_view& in, F f) {
  int64_t n = numel(out);
  if (n == 0) return TRT_OK;
  const trt_tensor_view* ops[2] = {&out, &in};
  StridedOffsets<2> s = coalesce(strided_offsets(out, ops));
  cudaStream_t stream = stream_of(a);
  if (all_contiguous(ops))
    map1<true><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<To>(out), data<From>(in), f);
  else
    map1<false><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<To>(out), data<From>(in), f);
  return check_launch(a, op);
}

// outputs[0] = f(inputs[0], inputs[1]); O is the output's type, T the inputs'.
template <typename O, typename T, typename F> trt_status launch_map2(const trt_kernel_args* a, const char* op, F f) {
  const trt_tensor_view& out = a->outputs[0];
  int64_t n = numel(out);
  if (n == 0) return TRT_OK;
  const trt_tensor_view* ops[3] = {&out, &a->inputs[0], &a->inputs[1]};
  StridedOffsets<3> s = coalesce(strided_offsets(out, ops));
  cudaStream_t stream = stream_of(a);
  const T* x = data<T>(a->inputs[0]);
  const T* y = data<T>(a->inputs[1]);
  if (all_contiguous(ops))
    map2<true><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<O>(out), x, y, f);
  else
    map2<false><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<O>(out), x, y, f);
  return check_launch(a, op);
}

// ---- copy, fill, arange ----

template <typename To> struct CastTo {
  template <typename From> __device__ To operator()(From v) const { return static_cast<To>(v); }
};

// copy: inputs [src], outputs [dst] (same shape; dtypes may differ, static_cast)
trt_status copy_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& dst = a->outputs[0];
  const trt_tensor_view& src = a->inputs[0];
  trt_status st = TRT_OK;
  TRT_CUDA_DISPATCH_ALL(a, dst.dtype, {
    using To = scalar_t;
    TRT_CUDA_DISPATCH_ALL(a, src.dtype, st = (launch_map1<To, scalar_t>(a, "copy", dst, src, CastTo<To>{})));
  });
  return st;
}

// t: (shape), any strides
template <bool Contig, typename T> __global__ void fill_values(StridedOffsets<1> s, int64_t n, T* t, T v) {
  TRT_CUDA_GRID_STRIDE(i, n) t[Contig ? i : s.offset(i, 0)] = v;
}

// fill: outputs [t], float_attrs [value]
trt_status fill_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  int64_t n = numel(t);
  if (n == 0) return TRT_OK;
  const trt_tensor_view* ops[1] = {&t};
  StridedOffsets<1> s = coalesce(strided_offsets(t, ops));
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_ALL(a, t.dtype, {
    scalar_t v = static_cast<scalar_t>(a->float_attrs[0]);
    if (is_contiguous(t)) fill_values<true><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<scalar_t>(t), v);
    else fill_values<false><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<scalar_t>(t), v);
  });
  return check_launch(a, "fill");
}

// t: (n,) with stride `stride`. t[i] = start + step * i in double, rounded
// separately (__dmul_rn/__dadd_rn never fuse into an FMA), as the CPU computes it.
template <typename T> __global__ void arange_values(int64_t n, int64_t stride, T* t, double start, double step) {
  TRT_CUDA_GRID_STRIDE(i, n) t[i * stride] = static_cast<T>(__dadd_rn(start, __dmul_rn(step, static_cast<double>(i))));
}

// arange: outputs [t] (1-D), float_attrs [start, step]
trt_status arange_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& t = a->outputs[0];
  int64_t n = t.sizes[0];
  if (n == 0) return TRT_OK;
  TRT_CUDA_DISPATCH_ALL(a, t.dtype, arange_values<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                                        n, t.strides[0], data<scalar_t>(t), a->float_attrs[0], a->float_attrs[1]));
  return check_launch(a, "arange");
}

// ---- binary arithmetic: inputs [a, b] (same dtype, expanded), outputs [y] (same dtype) ----

#define TRT_CUDA_BINARY_OP(Name, expr)                                                   \
  struct Name {                                                                          \
    template <typename T> __device__ T operator()(T x, T y) const { return static_cast<T>(expr); } \
  };
TRT_CUDA_BINARY_OP(AddOp, x + y)
TRT_CUDA_BINARY_OP(SubOp, x - y)
TRT_CUDA_BINARY_OP(MulOp, x * y)
TRT_CUDA_BINARY_OP(MaximumOp, x >= y ? x : y)  // picks a on ties
TRT_CUDA_BINARY_OP(FloatDivOp, x / y)
TRT_CUDA_BINARY_OP(PowOp, std::pow(x, y))
#undef TRT_CUDA_BINARY_OP

#define TRT_CUDA_BINARY(name, Op)                                                                      \
  trt_status name##_kernel(const trt_kernel_args* a) {                                                 \
    trt_status st = TRT_OK;                                                                            \
    TRT_CUDA_DISPATCH_ALL(a, a->outputs[0].dtype, st = (launch_map2<scalar_t, scalar_t>(a, #name, Op{}))); \
    return st;                                                                                         \
  }
TRT_CUDA_BINARY(add, AddOp)
TRT_CUDA_BINARY(sub, SubOp)
TRT_CUDA_BINARY(mul, MulOp)
TRT_CUDA_BINARY(maximum, MaximumOp)
#undef TRT_CUDA_BINARY

// Integer division; a zero divisor writes 0 and records its logical index in `zero`.
// INT64_MIN / -1 overflows; the CPU returns its wrapped result, INT64_MIN itself.
template <bool Contig, typename T>
__global__ void int_div(StridedOffsets<3> s, int64_t n, T* y, const T* a, const T* b, unsigned long long* zero) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    T x = a[Contig ? i : s.offset(i, 1)], d = b[Contig ? i : s.offset(i, 2)];
    T q;
    if (d == T(0)) {
      record_hit(zero, i);
      q = T(0);
    } else if constexpr (std::is_signed_v<T>) {
      q = d == T(-1) && x == T(INT64_MIN) ? x : static_cast<T>(x / d);  // T is int64_t
    } else {
      q = static_cast<T>(x / d);
    }
    y[Contig ? i : s.offset(i, 0)] = q;
  }
}

// div: integer dtypes report a zero divisor with "div: integer division by zero".
// A kernel cannot fail, so it marks a device flag (FirstHit) and this function
// synchronises the stream to read it: the device queue's host thread blocks for
// this one kernel, the script does not. Floating division needs no flag.
template <typename T> trt_status int_div_launch(const trt_kernel_args* a) {
  const trt_tensor_view& out = a->outputs[0];
  int64_t n = numel(out);
  if (n == 0) return TRT_OK;
  const trt_tensor_view* ops[3] = {&out, &a->inputs[0], &a->inputs[1]};
  StridedOffsets<3> s = coalesce(strided_offsets(out, ops));
  FirstHit zero;
  if (trt_status st = zero.init(a, "div"); st != TRT_OK) return st;
  cudaStream_t stream = stream_of(a);
  const T* x = data<T>(a->inputs[0]);
  const T* y = data<T>(a->inputs[1]);
  if (all_contiguous(ops))
    int_div<true><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<T>(out), x, y, zero.slot());
  else
    int_div<false><<<blocks_for(n), kBlock, 0, stream>>>(s, n, data<T>(out), x, y, zero.slot());
  if (trt_status st = check_launch(a, "div"); st != TRT_OK) return st;
  unsigned long long first = FirstHit::kNone;
  if (trt_status st = zero.read(a, "div", &first); st != TRT_OK) return st;
  if (first != FirstHit::kNone) return fail(a, TRT_ERR_INVALID_ARGUMENT, "div: integer division by zero");
  return TRT_OK;
}

trt_status div_kernel(const trt_kernel_args* a) {
  switch (a->outputs[0].dtype) {
    case TRT_INT64: return int_div_launch<int64_t>(a);
    case TRT_UINT8: return int_div_launch<uint8_t>(a);
    default: break;
  }
  trt_status st = TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->outputs[0].dtype, st = (launch_map2<scalar_t, scalar_t>(a, "div", FloatDivOp{})));
  return st;
}

trt_status pow_kernel(const trt_kernel_args* a) {
  trt_status st = TRT_OK;
  TRT_CUDA_DISPATCH_FLOAT(a, a->outputs[0].dtype, st = (launch_map2<scalar_t, scalar_t>(a, "pow", PowOp{})));
  return st;
}

// ---- comparisons: inputs [a, b] (same dtype), outputs [y] uint8 0/1 ----

#define TRT_CUDA_COMPARE(name, Name, op)                                                                    \
  struct Name {                                                                                             \
    template <typename T> __device__ uint8_t operator()(T x, T y) const { return uint8_t(x op y); }          \
  };                                                                                                        \
  trt_status name##_kernel(const trt_kernel_args* a) {                                                      \
    trt_status st = TRT_OK;                                                                                 \
    TRT_CUDA_DISPATCH_ALL(a, a->inputs[0].dtype, st = (launch_map2<uint8_t, scalar_t>(a, #name, Name{})));  \
    return st;                                                                                              \
  }
TRT_CUDA_COMPARE(eq, EqOp, ==)
TRT_CUDA_COMPARE(ne, NeOp, !=)
TRT_CUDA_COMPARE(lt, LtOp, <)
TRT_CUDA_COMPARE(le, LeOp, <=)
TRT_CUDA_COMPARE(gt, GtOp, >)
TRT_CUDA_COMPARE(ge, GeOp, >=)
#undef TRT_CUDA_COMPARE

// ---- unary math: inputs [x], outputs [y] (same dtype; floating except neg) ----

#define TRT_CUDA_UNARY(name, Name, dispatch, expr)                                                        \
  struct Name {                                                                                           \
    template <typename T> __device__ T operator()(T x) const { return static_cast<T>(expr); }             \
  };                                                                                                      \
  trt_status name##_kernel(const trt_kernel_args* a) {                                                    \
    trt_status st = TRT_OK;                                                                               \
    dispatch(a, a->outputs[0].dtype,                                                                      \
             st = (launch_map1<scalar_t, scalar_t>(a, #name, a->outputs[0], a->inputs[0], Name{})));      \
    return st;                                                                                            \
  }
TRT_CUDA_UNARY(neg, NegOp, TRT_CUDA_DISPATCH_ALL, -x)
TRT_CUDA_UNARY(abs, AbsOp, TRT_CUDA_DISPATCH_FLOAT, std::abs(x))
TRT_CUDA_UNARY(exp, ExpOp, TRT_CUDA_DISPATCH_FLOAT, std::exp(x))
TRT_CUDA_UNARY(log, LogOp, TRT_CUDA_DISPATCH_FLOAT, std::log(x))
TRT_CUDA_UNARY(sqrt, SqrtOp, TRT_CUDA_DISPATCH_FLOAT, std::sqrt(x))
TRT_CUDA_UNARY(relu, ReluOp, TRT_CUDA_DISPATCH_FLOAT, relu(x))
TRT_CUDA_UNARY(sigmoid, SigmoidOp, TRT_CUDA_DISPATCH_FLOAT, sigmoid(x))
TRT_CUDA_UNARY(tanh, TanhOp, TRT_CUDA_DISPATCH_FLOAT, std::tanh(x))
TRT_CUDA_UNARY(round_bf16, RoundBf16Op, TRT_CUDA_DISPATCH_FLOAT, trainrt::math::round_bf16(x))
#undef TRT_CUDA_UNARY

// ---- activation backward: inputs [dy, saved], outputs [dx]; saved is x (relu) or y ----

#define TRT_CUDA_ACT_BACKWARD(name, Name, fn)                                                                  \
  struct Name {                                                                                                \
    template <typename T> __device__ T operator()(T dy, T saved) const { return fn(dy, saved); }               \
  };                                                                                                           \
  trt_status name##_kernel(const trt_kernel_args* a) {                                                         \
    trt_status st = TRT_OK;                                                                                    \
    TRT_CUDA_DISPATCH_FLOAT(a, a->outputs[0].dtype, st = (launch_map2<scalar_t, scalar_t>(a, #name, Name{})));  \
    return st;                                                                                                 \
  }
TRT_CUDA_ACT_BACKWARD(relu_backward, ReluBackwardOp, trainrt::math::relu_backward)
TRT_CUDA_ACT_BACKWARD(sigmoid_backward, SigmoidBackwardOp, trainrt::math::sigmoid_backward)
TRT_CUDA_ACT_BACKWARD(tanh_backward, TanhBackwardOp, trainrt::math::tanh_backward)
#undef TRT_CUDA_ACT_BACKWARD

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
               {"round_bf16", round_bf16_kernel},
               {"sigmoid_backward", sigmoid_backward_kernel},          {"tanh_backward", tanh_backward_kernel}};
  for (const auto& k : table)
    if (!add_kernel(host, k.op, k.fn)) return false;
  return true;
}

}  // namespace trt_cuda
