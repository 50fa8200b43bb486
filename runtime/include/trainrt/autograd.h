// Reverse-mode autograd: graph nodes, the grad-mode switch and the engine.
// Ops record a Node when grad mode is on and an input requires grad; the node's
// backward is written with registered ops (ops.h), so every device gets it.
// Deliberately not here: higher-order gradients (backward runs under no_grad).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt {

// One input of a node: where its gradient goes, and the shape it must have.
struct Edge {
  std::shared_ptr<Node> node;  // null when that input does not require grad
  Shape shape;
  DType dtype = DType::Float32;
};

class Node {
 public:
  using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

  Node(std::string name, std::vector<Edge> next, BackwardFn backward)
      : name_(std::move(name)), next_(std::move(next)), backward_(std::move(backward)) {}
  virtual ~Node() = default;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }

  // Gradients for each input (undefined = no contribution). Throws if released.
  virtual std::vector<Tensor> apply(const Tensor& grad_output);
  // Frees saved tensors; a later apply() says to pass retain_graph.
  virtual void release();
  bool released() const { return released_; }

 protected:
  std::string name_;
  std::vector<Edge> next_;
  BackwardFn backward_;
  bool released_ = false;
};

// Sink of a leaf tensor: adds the incoming gradient into tensor.grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release() override {}

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// Grad mode: thread-local switch; NoGradGuard turns recording off in a scope.
bool grad_enabled();
void set_grad_enabled(bool enabled);
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of `inputs` requires grad.
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node named `name` to `output` whose backward maps grad_output to one
// gradient per input (in order). No-op unless needs_grad(inputs).
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, Node::BackwardFn backward);

// Runs backward from `root` (grad defaults to ones for a one-element root).
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// Gradient-ready hooks (PyTorch's post-accumulate-grad hook): fn runs each time
// a backward has accumulated a gradient into leaf.grad, on the thread running
// backward. The DDP reducer starts a bucket's all-reduce from here.
uint64_t add_grad_ready_hook(const Tensor& leaf, std::function<void()> fn);
void remove_grad_ready_hook(const Tensor& leaf, uint64_t id);

// Runs fn once the backward now running has finished its graph (PyTorch's
// queue_callback); an exception from fn fails that backward. Only callable
// from inside a backward (a hook); throws otherwise.
void queue_backward_callback(std::function<void()> fn);

}  // namespace trainrt
