// The program an `elementwise_chain` kernel runs: a chain of element-wise ops
// that a compiled step's fusion pass (runtime/compile/elementwise_chains.cpp)
// folded into one pass over memory. Shared by the runtime, which writes it,
// and the plugins, which run it; docs/ops.md describes the kernel.
//
// int_attrs = [n_registers, n_instructions, (op, dst, a, b) per instruction,
//              n_outputs, register per output]
// Registers 0 .. n_inputs-1 are the kernel's inputs: each is contiguous with
// the outputs' element count or a single value broadcast (every stride 0).
// Every instruction writes a fresh register (dst >= n_inputs, increasing);
// b is -1 for a unary op. Outputs are contiguous and get their register's
// values. Each op is the same per-element formula as the kernel of that name
// (trainrt/kernel_math.h), so the chain's results equal the unfused kernels'
// bit for bit.
#pragma once
#include <cstdint>

namespace trainrt::elementwise {

enum Op : int64_t {
  kAdd = 0,
  kSub,
  kMul,
  kDiv,
  kMaximum,
  kNeg,
  kAbs,
  kExp,
  kLog,
  kSqrt,
  kSigmoid,
  kTanh,
  kRelu,
  kReluBackward,     // (dy, x)
  kSigmoidBackward,  // (dy, y)
  kTanhBackward,     // (dy, y)
  kRoundBf16,        // the nearest bfloat16 (autocast, trainrt/autocast.h)
  kOpCount
};

// The kernel names a chain may contain, indexed by Op; nullptr past the end.
inline const char* op_kernel_name(int64_t op) {
  static const char* const names[] = {"add",  "sub",  "mul",     "div",  "maximum", "neg",
                                      "abs",  "exp",  "log",     "sqrt", "sigmoid", "tanh",
                                      "relu", "relu_backward", "sigmoid_backward", "tanh_backward",
                                      "round_bf16"};
  return op >= 0 && op < kOpCount ? names[op] : nullptr;
}
inline bool op_is_binary(int64_t op) {
  return (op >= kAdd && op <= kMaximum) || (op >= kReluBackward && op <= kTanhBackward);
}

}  // namespace trainrt::elementwise
