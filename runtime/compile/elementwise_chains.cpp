// Fusion pass (plan.h): runs of consecutive element-wise kernels in a plan
// become one `elementwise_chain` node (trainrt/elementwise_program.h), when the
// plan's device registered that kernel. Each value a later op of the run reads
// stays in a register of the chain; a value is written to memory only if
// something outside the run reads its buffer or the buffer outlives the step
// (a gradient, a result). So x * sigmoid(x) forward, or the backward of a
// composed activation, is one pass over memory instead of one per op.
//
// A node joins a run when it is one of the ops the program knows, has one
// contiguous floating output of the run's element count and dtype, and reads
// operands that are either contiguous with that count or one value broadcast
// (stride 0). Its operands must be exactly a value the run already has (same
// address) or memory disjoint from everything the run reads and writes: the
// chain is computed tile by tile, which is only the unfused order when every
// element depends on that same element alone. A run may pass over a few
// nodes that share no buffer it writes (and write none it reads); the fused
// node takes the last member's place, after them.
#include <algorithm>
#include <string>

#include "compile/plan.h"
#include "trainrt/dtype.h"
#include "trainrt/elementwise_program.h"

namespace trainrt::compile {
namespace {

namespace ew = trainrt::elementwise;

int64_t op_of(const std::string& kernel) {
  for (int64_t op = 0; op < ew::kOpCount; ++op)
    if (kernel == ew::op_kernel_name(op)) return op;
  return -1;
}

int64_t elements(const trt_tensor_view& v) {
  int64_t n = 1;
  for (int d = 0; d < v.ndim; ++d) n *= v.sizes[d];
  return n;
}
bool contiguous(const trt_tensor_view& v) {
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; --d) {
    if (v.sizes[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.sizes[d];
  }
  return true;
}
bool broadcast(const trt_tensor_view& v) {
  for (int d = 0; d < v.ndim; ++d)
    if (v.sizes[d] != 1 && v.strides[d] != 0) return false;
  return true;
}
bool floating(int32_t dtype) { return dtype == TRT_FLOAT32 || dtype == TRT_FLOAT64; }

// The bytes a view touches: [begin, end).
struct Span {
  const char* begin;
  const char* end;
  bool overlaps(const Span& o) const { return begin < o.end && o.begin < end; }
};
Span span_of(const trt_tensor_view& v, int64_t count) {
  const char* p = static_cast<const char*>(v.data);
  int64_t bytes = static_cast<int64_t>(dtype_size(static_cast<DType>(v.dtype)));
  return {p, p + (broadcast(v) ? 1 : count) * bytes};
}

bool joinable_alone(const Node& n, int64_t& op) {
  op = op_of(n.call.kernel);
  if (op < 0 || n.call.outputs.size() != 1) return false;
  const trt_tensor_view& out = n.call.outputs[0];
  if (!floating(out.dtype) || !contiguous(out) || static_cast<int>(n.call.inputs.size()) != (ew::op_is_binary(op) ? 2 : 1))
    return false;
  for (const trt_tensor_view& in : n.call.inputs)
    if (in.dtype != out.dtype || !(broadcast(in) || (contiguous(in) && elements(in) == elements(out)))) return false;
  return true;
}

// One run being built. Registers: ('i', k) = input k, ('t', k) = instruction k's result.
struct Run {
  int64_t count = 0;  // elements
  int32_t dtype = 0;
  int segment = 0;
  std::vector<size_t> members;  // node indices
  std::vector<trt_tensor_view> inputs;
  std::vector<int> input_buffers;
  struct Operand {
    bool input;
    int64_t index;
  };
  struct Instr {
    int64_t op;
    Operand a, b;
    bool has_b;
  };
  std::vector<Instr> code;
  struct Written {
    Span span;
    trt_tensor_view view;
    int buffer;
    int64_t instr;  // the last instruction that wrote it
  };
  std::vector<Written> written;
  std::vector<Span> read_spans;  // external inputs

  // The operand a node's input view is, or false when it conflicts with the run.
  bool operand(const trt_tensor_view& v, int buffer, Operand& out) {
    Span s = span_of(v, count);
    bool is_broadcast = broadcast(v);
    for (const Written& w : written) {
      if (!s.overlaps(w.span)) continue;
      if (is_broadcast || v.data != w.view.data) return false;
      out = {false, w.instr};
      return true;
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!s.overlaps(read_spans[k])) continue;
      if (v.data != inputs[k].data || is_broadcast != broadcast(inputs[k])) return false;
      out = {true, static_cast<int64_t>(k)};
      return true;
    }
    inputs.push_back(v);
    input_buffers.push_back(buffer);
    read_spans.push_back(s);
    out = {true, static_cast<int64_t>(inputs.size() - 1)};
    return true;
  }

  // Adds node n (joinable_alone) unless it conflicts; on conflict the run is unchanged.
  bool add(const Node& n, size_t index, int64_t op) {
    const trt_tensor_view& out = n.call.outputs[0];
    if (!members.empty() && (elements(out) != count || out.dtype != dtype || n.segment != segment)) return false;
    if (members.empty()) {
      count = elements(out);
      dtype = out.dtype;
      segment = n.segment;
    }
    Run saved = *this;
    Instr in{op, {}, {}, n.call.inputs.size() > 1};
    if (!operand(n.call.inputs[0], n.buffers[0], in.a) || (in.has_b && !operand(n.call.inputs[1], n.buffers[1], in.b))) {
      *this = std::move(saved);
      return false;
    }
    // The output: a value the run has at that address (rewritten), or fresh memory.
    Span s = span_of(out, count);
    int out_buffer = n.buffers[n.call.inputs.size()];
    bool placed = false;
    for (Written& w : written) {
      if (!s.overlaps(w.span)) continue;
      if (out.data != w.view.data) {
        *this = std::move(saved);
        return false;
      }
      w.instr = static_cast<int64_t>(code.size());
      placed = true;
    }
    for (size_t k = 0; k < inputs.size() && !placed; ++k)
      if (s.overlaps(read_spans[k]) && (out.data != inputs[k].data || broadcast(inputs[k]))) {
        *this = std::move(saved);
        return false;
      }
    if (!placed) written.push_back({s, out, out_buffer, static_cast<int64_t>(code.size())});
    code.push_back(in);
    members.push_back(index);
    return true;
  }
};

// Replaces the run's members by one elementwise_chain node (at the last member).
void emit(Plan& plan, Run& run, trt_kernel_fn fn, const std::vector<std::vector<size_t>>& buffer_users,
          std::vector<std::string>& applied) {
  std::vector<Node>& nodes = plan.nodes();
  const int64_t n_inputs = static_cast<int64_t>(run.inputs.size());
  auto reg = [&](const Run::Operand& o) { return o.input ? o.index : n_inputs + o.index; };
  std::vector<int64_t> program{n_inputs + static_cast<int64_t>(run.code.size()), static_cast<int64_t>(run.code.size())};
  std::string ops;
  for (const Run::Instr& in : run.code) {
    program.insert(program.end(), {in.op, n_inputs + static_cast<int64_t>(&in - run.code.data()), reg(in.a),
                                   in.has_b ? reg(in.b) : -1});
    if (!ops.empty()) ops += '+';
    ops += ew::op_kernel_name(in.op);
  }
  Node fused = nodes[run.members.back()];
  fused.call.inputs = run.inputs;
  fused.call.outputs.clear();
  fused.buffers = run.input_buffers;
  std::vector<int64_t> output_registers;
  for (const Run::Written& w : run.written) {
    // Written to memory unless the buffer is the step's own and only the run uses it.
    const std::vector<size_t>& users = buffer_users[static_cast<size_t>(w.buffer)];
    bool only_the_run = plan.buffers()[static_cast<size_t>(w.buffer)].internal &&
                        std::all_of(users.begin(), users.end(), [&](size_t u) {
                          return std::find(run.members.begin(), run.members.end(), u) != run.members.end();
                        });
    if (only_the_run) continue;
    fused.call.outputs.push_back(w.view);
    fused.buffers.push_back(w.buffer);
    output_registers.push_back(n_inputs + w.instr);
  }
  if (fused.call.outputs.empty()) return;  // nothing escapes: leave the run as it is
  program.push_back(static_cast<int64_t>(output_registers.size()));
  program.insert(program.end(), output_registers.begin(), output_registers.end());
  fused.call.kernel = fused.call.op = "elementwise_chain";
  fused.call.fn = fn;
  fused.call.int_attrs = std::move(program);
  fused.call.float_attrs.clear();
  for (size_t m : run.members) nodes[m].removed = true;
  nodes[run.members.back()] = std::move(fused);
  applied.push_back("elementwise chain " + ops);
}

// How many nodes a run may pass over between two of its members.
constexpr int kMaxSkipped = 8;

bool independent(const Node& n, const Run& run) {
  if (n.segment != run.segment) return false;
  for (size_t v = 0; v < n.buffers.size(); ++v) {
    int b = n.buffers[v];
    bool output = v >= n.call.inputs.size();
    for (const Run::Written& w : run.written)
      if (w.buffer == b) return false;
    if (output && std::find(run.input_buffers.begin(), run.input_buffers.end(), b) != run.input_buffers.end())
      return false;
  }
  return true;
}

}  // namespace

void fuse_elementwise_chains(Plan& plan, std::vector<std::string>& applied) {
  trt_kernel_fn fn = find_kernel("elementwise_chain", plan.device().type);
  if (!fn) return;
  std::vector<Node>& nodes = plan.nodes();
  std::vector<std::vector<size_t>> buffer_users(plan.buffers().size());
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!nodes[i].removed)
      for (int b : nodes[i].buffers) buffer_users[static_cast<size_t>(b)].push_back(i);

  size_t i = 0;
  while (i < nodes.size()) {
    int64_t op;
    if (nodes[i].removed || !joinable_alone(nodes[i], op)) {
      ++i;
      continue;
    }
    Run run;
    run.add(nodes[i], i, op);
    size_t next = i + 1;
    for (int skipped = 0; next < nodes.size(); ++next) {
      if (nodes[next].removed) continue;
      if (joinable_alone(nodes[next], op) && run.add(nodes[next], next, op)) continue;
      // A node the run can pass over: it then runs before the whole chain, so it
      // must not touch what the run wrote or write what the run read (say the
      // fill of a scalar that a later op of the run multiplies by).
      if (++skipped > kMaxSkipped || !independent(nodes[next], run)) break;
    }
    if (run.members.size() >= 2) emit(plan, run, fn, buffer_users, applied);
    i = next;
  }
}

}  // namespace trainrt::compile
