// The thread-local grad-mode switch and the helper that records graph nodes.
#include "trainrt/autograd.h"

namespace trainrt {
namespace {
thread_local bool g_grad_enabled = true;

// The node an input's gradient flows into: its grad_fn, or its leaf accumulator.
std::shared_ptr<Node> gradient_sink(const Tensor& t) {
  if (!t.requires_grad()) return nullptr;
  TensorImpl& impl = t.impl();
  if (impl.grad_fn) return impl.grad_fn;
  if (auto existing = impl.grad_accumulator.lock()) return existing;
  auto acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
  impl.grad_accumulator = acc;
  return acc;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, Node::BackwardFn backward) {
  if (!needs_grad(inputs)) return;
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      edges.push_back(Edge{});
      continue;
    }
    edges.push_back(Edge{gradient_sink(t), t.sizes(), t.dtype()});
  }
  output.impl().grad_fn = std::make_shared<Node>(name, std::move(edges), std::move(backward));
  output.impl().requires_grad = true;
}

}  // namespace trainrt
