// elementwise_chain: a chain of element-wise ops (trainrt/elementwise_program.h)
// in one pass over memory. The element range is cut into tiles of kTile; per
// tile every instruction runs over registers that stay in cache (inputs are
// read in place, temporaries live in a per-thread buffer), and only the
// chain's outputs are written. A chain of k ops over n elements reads and
// writes about (inputs + outputs) * n values instead of about 3kn.
// All outputs are written after the tile's last instruction, so an output may
// be the same memory as an input (an in-place activation).
#include <cmath>
#include <vector>

#include "kernel_util.h"
#include "kernels.h"
#include "trainrt/elementwise_program.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
namespace {

namespace ew = trainrt::elementwise;
constexpr int64_t kTile = 512;

struct Instruction {
  int64_t op, dst, a, b;
};
struct Program {
  int64_t registers = 0;
  std::vector<Instruction> code;
  std::vector<int64_t> outputs;  // register per output
};

// Decodes and checks int_attrs against the call; an empty error means valid.
const char* decode(const trt_kernel_args* a, Program& p) {
  const int64_t* at = a->int_attrs;
  int64_t n = a->n_int_attrs;
  if (n < 3) return "int_attrs too short";
  p.registers = at[0];
  int64_t count = at[1];
  if (count < 1 || count > n || p.registers < a->n_inputs + count || p.registers > n + a->n_inputs ||
      2 + 4 * count + 1 > n)
    return "bad instruction count";
  for (int64_t i = 0; i < count; ++i) {
    Instruction in{at[2 + 4 * i], at[3 + 4 * i], at[4 + 4 * i], at[5 + 4 * i]};
    bool binary = ew::op_is_binary(in.op);
    if (in.op < 0 || in.op >= ew::kOpCount) return "unknown op";
    if (in.dst < a->n_inputs || in.dst >= p.registers || (i && in.dst <= p.code.back().dst)) return "bad destination";
    if (in.a < 0 || in.a >= in.dst || (binary ? (in.b < 0 || in.b >= in.dst) : in.b != -1)) return "bad operand";
    p.code.push_back(in);
  }
  int64_t at_outputs = 2 + 4 * count;
  if (at[at_outputs] != a->n_outputs || at_outputs + 1 + a->n_outputs != n) return "output count differs";
  for (int k = 0; k < a->n_outputs; ++k) {
    int64_t r = at[at_outputs + 1 + k];
    if (r < a->n_inputs || r >= p.registers) return "bad output register";
    p.outputs.push_back(r);
  }
  return nullptr;
}

template <typename T> void apply(int64_t op, T* d, const T* x, const T* y, int64_t n) {
  namespace m = trainrt::math;
  switch (op) {
    case ew::kAdd: for (int64_t i = 0; i < n; ++i) d[i] = x[i] + y[i]; break;
    case ew::kSub: for (int64_t i = 0; i < n; ++i) d[i] = x[i] - y[i]; break;
    case ew::kMul: for (int64_t i = 0; i < n; ++i) d[i] = x[i] * y[i]; break;
    case ew::kDiv: for (int64_t i = 0; i < n; ++i) d[i] = x[i] / y[i]; break;
    case ew::kMaximum: for (int64_t i = 0; i < n; ++i) d[i] = x[i] >= y[i] ? x[i] : y[i]; break;
    case ew::kNeg: for (int64_t i = 0; i < n; ++i) d[i] = -x[i]; break;
    case ew::kAbs: for (int64_t i = 0; i < n; ++i) d[i] = std::abs(x[i]); break;
    case ew::kExp: for (int64_t i = 0; i < n; ++i) d[i] = std::exp(x[i]); break;
    case ew::kLog: for (int64_t i = 0; i < n; ++i) d[i] = std::log(x[i]); break;
    case ew::kSqrt: for (int64_t i = 0; i < n; ++i) d[i] = std::sqrt(x[i]); break;
    case ew::kSigmoid: for (int64_t i = 0; i < n; ++i) d[i] = m::sigmoid(x[i]); break;
    case ew::kTanh: for (int64_t i = 0; i < n; ++i) d[i] = std::tanh(x[i]); break;
    case ew::kRelu: for (int64_t i = 0; i < n; ++i) d[i] = m::relu(x[i]); break;
    case ew::kReluBackward: for (int64_t i = 0; i < n; ++i) d[i] = m::relu_backward(x[i], y[i]); break;
    case ew::kSigmoidBackward: for (int64_t i = 0; i < n; ++i) d[i] = m::sigmoid_backward(x[i], y[i]); break;
    case ew::kTanhBackward: for (int64_t i = 0; i < n; ++i) d[i] = m::tanh_backward(x[i], y[i]); break;
    case ew::kRoundBf16: for (int64_t i = 0; i < n; ++i) d[i] = m::round_bf16(x[i]); break;
  }
}

bool broadcast(const trt_tensor_view& v) {
  for (int d = 0; d < v.ndim; ++d)
    if (v.strides[d] != 0 && v.sizes[d] != 1) return false;
  return true;
}

template <typename T> void run(const trt_kernel_args* a, const Program& p, int64_t n) {
  const int inputs = a->n_inputs;
  parallel_for((n + kTile - 1) / kTile, a->num_threads, [&](int64_t first, int64_t last) {
    // A tile per register: inputs broadcast from one value are filled once, the
    // others point into their tensor; temporaries live here.
    std::vector<T> storage(static_cast<size_t>(p.registers * kTile));
    std::vector<const T*> source(static_cast<size_t>(inputs));
    for (int i = 0; i < inputs; ++i)
      if (broadcast(a->inputs[i])) std::fill_n(storage.data() + i * kTile, kTile, *data<T>(a->inputs[i]));
    auto reg = [&](int64_t r) { return storage.data() + r * kTile; };
    for (int64_t tile = first; tile < last; ++tile) {
      int64_t begin = tile * kTile, len = std::min(kTile, n - begin);
      auto operand = [&](int64_t r) -> const T* {
        if (r < inputs && !broadcast(a->inputs[r])) return data<T>(a->inputs[r]) + begin;
        return reg(r);
      };
      for (const Instruction& in : p.code)
        apply<T>(in.op, reg(in.dst), operand(in.a), in.b >= 0 ? operand(in.b) : nullptr, len);
      for (size_t k = 0; k < p.outputs.size(); ++k) std::copy_n(reg(p.outputs[k]), len, data<T>(a->outputs[k]) + begin);
    }
  }, 4);
}

}  // namespace

trt_status elementwise_chain_kernel(const trt_kernel_args* a) {
  Program p;
  if (a->n_outputs < 1 || a->n_inputs < 1)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "elementwise_chain: needs inputs and outputs");
  if (const char* why = decode(a, p))
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "elementwise_chain: invalid program (%s)", why);
  const int64_t n = numel(a->outputs[0]);
  int32_t dtype = a->outputs[0].dtype;
  for (int k = 0; k < a->n_outputs; ++k)
    if (!is_contiguous(a->outputs[k]) || numel(a->outputs[k]) != n || a->outputs[k].dtype != dtype)
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "elementwise_chain: outputs must be contiguous, of one size and dtype");
  for (int i = 0; i < a->n_inputs; ++i) {
    const trt_tensor_view& v = a->inputs[i];
    if (v.dtype != dtype || !(broadcast(v) || (is_contiguous(v) && numel(v) == n)))
      return fail(a, TRT_ERR_INVALID_ARGUMENT,
                  "elementwise_chain: input %d must be contiguous like the outputs or one broadcast value", i);
  }
  if (n == 0) return TRT_OK;
  TRT_CPU_DISPATCH_FLOAT(a, dtype, run<scalar_t>(a, p, n));
  return TRT_OK;
}

}  // namespace trt_cpu
