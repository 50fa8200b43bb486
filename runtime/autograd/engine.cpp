// The reverse-mode engine: counts each node's consumers, then walks the graph
// from the root in topological order, summing gradients that meet at a node,
// checking each gradient's shape against its input, and releasing every node's
// saved tensors as soon as it has run (unless retain_graph). Leaves run their
// gradient-ready hooks after accumulating; callbacks queued during a backward
// run once its graph is done (the DDP reducer's hooks and final wait).
#include <atomic>
#include <unordered_map>
#include <vector>

#include "trainrt/devices.h"
#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"

namespace trainrt {

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  TRT_CHECK(!released_, "backward: trying to go through the graph a second time (node ", name_,
            "); pass retain_graph=true to the first backward()");
  return backward_(grad_output);
}

void Node::release() {
  backward_ = nullptr;
  released_ = true;
}

AccumulateGrad::AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : Node("AccumulateGrad", {}, nullptr), leaf_(std::move(leaf)) {}

namespace {

// Callbacks queued during the backward running on this thread (null outside one).
thread_local std::vector<std::function<void()>>* g_backward_callbacks = nullptr;
std::atomic<uint64_t> g_next_hook_id{1};

void run_grad_ready_hooks(TensorImpl& leaf) {
  if (leaf.grad_ready_hooks.empty()) return;
  auto hooks = leaf.grad_ready_hooks;  // a hook may remove itself
  for (auto& [id, fn] : hooks) fn();
}

}  // namespace

uint64_t add_grad_ready_hook(const Tensor& leaf, std::function<void()> fn) {
  TRT_CHECK(leaf.is_leaf() && leaf.requires_grad(), "grad-ready hook: tensor ", leaf.shape_str(),
            " is not a leaf that requires grad");
  uint64_t id = g_next_hook_id++;
  leaf.impl().grad_ready_hooks.emplace_back(id, std::move(fn));
  return id;
}

void remove_grad_ready_hook(const Tensor& leaf, uint64_t id) {
  auto& hooks = leaf.impl().grad_ready_hooks;
  std::erase_if(hooks, [id](const auto& entry) { return entry.first == id; });
}

void queue_backward_callback(std::function<void()> fn) {
  TRT_CHECK(g_backward_callbacks != nullptr, "queue_backward_callback: no backward is running on this thread");
  g_backward_callbacks->push_back(std::move(fn));
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  auto leaf = leaf_.lock();
  if (!leaf) return {};
  if (leaf->grad) {
    leaf->grad = ops::add(Tensor(leaf->grad), grad_output.contiguous()).impl_ptr();
  } else {
    // .grad must own its buffer: the incoming gradient may be shared (add's backward
    // hands one tensor to both inputs) or be a view of something the graph uses.
    // A contiguous gradient nobody else references is taken as is (no copy).
    bool sole_owner = grad_output.impl_ptr().use_count() == 1 && grad_output.storage().use_count() == 1;
    if (sole_owner && grad_output.is_contiguous()) leaf->grad = grad_output.impl_ptr();
    else leaf->grad = grad_output.clone().impl_ptr();
  }
  run_grad_ready_hooks(*leaf);
  return {};
}

// Walks the graph from root in dependency order (see the file comment).
static void run_graph(const Tensor& root, const Tensor& seed, bool retain_graph) {
  std::shared_ptr<Node> start = root.is_leaf() ? nullptr : root.grad_fn();
  if (!start) {  // a leaf: its gradient is the seed itself
    AccumulateGrad(root.impl_ptr()).apply(seed);
    return;
  }

  // Count how many edges point at each node.
  std::unordered_map<Node*, int> pending_inputs;
  std::vector<Node*> stack{start.get()};
  pending_inputs[start.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next()) {
      if (!e.node) continue;
      auto [it, inserted] = pending_inputs.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.node.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads{{start.get(), seed}};
  std::unordered_map<Node*, std::shared_ptr<Node>> keep_alive{{start.get(), start}};
  std::vector<Node*> ready{start.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> input_grads;
    if (auto it = grads.find(n); it != grads.end()) {  // a branch no gradient reached passes nothing on
      Tensor g = std::move(it->second);
      grads.erase(it);
      std::string label = "the backward of " + n->name();
      CurrentOp scope(label.c_str());
      input_grads = n->apply(g);
    }
    if (!retain_graph) n->release();
    const auto& edges = n->next();
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.node) continue;
      Node* next = e.node.get();
      if (i < input_grads.size() && input_grads[i].defined()) {
        const Tensor& gi = input_grads[i];
        TRT_CHECK(gi.sizes() == e.shape, "autograd: backward of ", n->name(), " returned a gradient of shape ",
                  gi.shape_str(), " for input ", i, " of shape ", shape_str(e.shape));
        auto it = grads.find(next);
        if (it == grads.end()) grads.emplace(next, gi);
        else it->second = ops::add(it->second, gi);
      }
      keep_alive.try_emplace(next, e.node);
      if (--pending_inputs[next] == 0) ready.push_back(next);
    }
    keep_alive.erase(n);
  }
}

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  TRT_CHECK(root.requires_grad(), "backward: tensor of shape ", root.shape_str(),
            " does not require grad (no input had requires_grad set)");
  Tensor seed = grad;
  if (!seed.defined()) {
    TRT_CHECK(root.numel() == 1, "backward: grad can be implicit only for one-element outputs, got shape ",
              root.shape_str(), "; pass a gradient");
    seed = ops::ones(root.sizes(), root.dtype(), root.device());
  }
  TRT_CHECK(seed.sizes() == root.sizes(), "backward: gradient of shape ", seed.shape_str(), " for output of shape ",
            root.shape_str());
  NoGradGuard no_grad;
  std::vector<std::function<void()>> callbacks;
  TRT_CHECK(g_backward_callbacks == nullptr, "backward: called from inside another backward (a hook)");
  g_backward_callbacks = &callbacks;
  struct Reset {
    ~Reset() { g_backward_callbacks = nullptr; }
  } reset;
  run_graph(root, seed, retain_graph);
  // Callbacks may queue more callbacks; run until none is left.
  for (size_t i = 0; i < callbacks.size(); ++i) {
    auto fn = std::move(callbacks[i]);
    fn();
  }
}

}  // namespace trainrt
