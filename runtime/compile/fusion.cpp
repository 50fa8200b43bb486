// Fusion passes over a captured step (plan.h). Each pass finds a producer and
// its only consumer and lets one fused kernel do both, when the plugin of the
// plan's device registered the fused kernel (so a device without it keeps
// the plain nodes). A pass only rewrites what it can prove equal:
//   conv2d -> relu                   => conv2d_relu (the ReLU as a post-op);
//     relu_backward's saved input becomes the ReLU's output: y > 0 iff x > 0.
//   max_pool2d_backward -> relu_backward, where the pool's input is that
//     ReLU's output             => max_pool2d_backward_relu (one pass).
//   conv2d_backward_weight (dy, x -> dw) and sum (dy -> db over N, H, W)
//                                => conv2d_backward_weight_bias (equal to rounding:
//     oneDNN sums the bias gradient in its own order).
//   max_pool2d_backward_relu (dy, c, y -> dc) -> conv2d_backward_weight_bias (dc, x)
//                                => pool_relu_conv2d_backward_weight_bias (bitwise):
//     dc never exists as a whole; the kernel makes each plane where it is read.
// The intermediate between the two (conv output, pooled gradient) disappears,
// which is also the in-place activation: no pre-activation tensor is kept.
#include <algorithm>
#include <cstring>

#include "compile/plan.h"

namespace trainrt::compile {
namespace {

bool same_view(const trt_tensor_view& a, const trt_tensor_view& b) {
  if (a.data != b.data || a.ndim != b.ndim || a.dtype != b.dtype) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.sizes[i] != b.sizes[i] || a.strides[i] != b.strides[i]) return false;
  return true;
}

struct Use {
  size_t node;
  size_t view;  // index into the node's buffers: inputs first, then outputs
  bool output;
};

class Pass {
 public:
  explicit Pass(Plan& plan) : plan_(plan), nodes_(plan.nodes()) {}

  std::vector<Use> uses(int buffer) const {
    std::vector<Use> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].removed) continue;
      const Node& n = nodes_[i];
      for (size_t v = 0; v < n.buffers.size(); ++v)
        if (n.buffers[v] == buffer) out.push_back({i, v, v >= n.call.inputs.size()});
    }
    return out;
  }
  int output_buffer(const Node& n, size_t k) const { return n.buffers[n.call.inputs.size() + k]; }
  bool internal(int buffer) const { return plan_.buffers()[static_cast<size_t>(buffer)].internal; }
  // The first (non-removed) node that touches `buffer`.
  size_t first_use(int buffer) const {
    auto u = uses(buffer);
    return u.empty() ? nodes_.size() : u.front().node;
  }
  trt_kernel_fn fused(const char* kernel) const { return find_kernel(kernel, plan_.device().type); }

  void retarget(Node& n, const char* kernel, trt_kernel_fn fn) {
    n.call.kernel = kernel;
    n.call.op = kernel;
    n.call.fn = fn;
  }

 protected:
  Plan& plan_;
  std::vector<Node>& nodes_;
};

// conv2d (output c) -> relu (c -> r); c otherwise read only as relu_backward's saved input.
int fuse_conv_relu(Pass& p, std::vector<Node>& nodes, std::vector<std::string>& applied) {
  trt_kernel_fn fn = p.fused("conv2d_relu");
  if (!fn) return 0;
  int count = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& conv = nodes[i];
    if (conv.removed || conv.call.kernel != "conv2d" || conv.call.outputs.size() != 1) continue;
    int c = p.output_buffer(conv, 0);
    if (!p.internal(c)) continue;
    const trt_tensor_view c_view = conv.call.outputs[0];
    // In place (relu_ under no_grad: c -> c): the ReLU is the next node to touch
    // c; every later reader sees the rectified values the fused kernel writes.
    std::vector<Use> c_uses = p.uses(c);
    if (c_uses.size() >= 3 && c_uses[0].node == i && c_uses[1].node == c_uses[2].node && c_uses[1].node > i) {
      Node& r = nodes[c_uses[1].node];
      if (r.call.kernel == "relu" && r.segment == conv.segment && same_view(r.call.inputs[0], c_view) &&
          same_view(r.call.outputs[0], c_view)) {
        p.retarget(conv, "conv2d_relu", fn);
        r.removed = true;
        applied.push_back("conv2d+relu");
        ++count;
        continue;
      }
    }
    long relu = -1;
    std::vector<size_t> backward;
    bool ok = true;
    for (const Use& u : p.uses(c)) {
      if (u.node == i) continue;
      const Node& n = nodes[u.node];
      if (n.call.kernel == "relu" && !u.output && u.view == 0 && same_view(n.call.inputs[0], c_view) && relu < 0 &&
          n.segment == conv.segment)
        relu = static_cast<long>(u.node);
      else if (n.call.kernel == "relu_backward" && !u.output && u.view == 1 && same_view(n.call.inputs[1], c_view))
        backward.push_back(u.node);
      else
        ok = false;
    }
    if (!ok || relu < 0) continue;
    Node& r = nodes[static_cast<size_t>(relu)];
    int r_buffer = p.output_buffer(r, 0);
    if (p.first_use(r_buffer) != static_cast<size_t>(relu)) continue;  // r is written first by the relu
    for (size_t b : backward) {
      nodes[b].call.inputs[1] = r.call.outputs[0];
      nodes[b].buffers[1] = r_buffer;
    }
    conv.call.outputs[0] = r.call.outputs[0];
    conv.buffers[conv.call.inputs.size()] = r_buffer;
    p.retarget(conv, "conv2d_relu", fn);
    r.removed = true;
    applied.push_back("conv2d+relu");
    ++count;
  }
  return count;
}

// max_pool2d_backward (dy, x, y -> dx) -> relu_backward (dx, x -> dc): x is both
// the pool's input and the ReLU's output (after fuse_conv_relu), dx read by nothing else.
int fuse_pool_backward_relu(Pass& p, std::vector<Node>& nodes, std::vector<std::string>& applied) {
  trt_kernel_fn fn = p.fused("max_pool2d_backward_relu");
  if (!fn) return 0;
  int count = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& pool = nodes[i];
    if (pool.removed || pool.call.kernel != "max_pool2d_backward" || pool.call.outputs.size() != 1) continue;
    int dx = p.output_buffer(pool, 0);
    if (!p.internal(dx)) continue;
    long relu_bw = -1;
    bool ok = true;
    for (const Use& u : p.uses(dx)) {
      if (u.node == i) continue;
      const Node& n = nodes[u.node];
      if (n.call.kernel == "relu_backward" && !u.output && u.view == 0 && relu_bw < 0 && n.segment == pool.segment &&
          same_view(n.call.inputs[0], pool.call.outputs[0]) && same_view(n.call.inputs[1], pool.call.inputs[1]))
        relu_bw = static_cast<long>(u.node);
      else
        ok = false;
    }
    if (!ok || relu_bw < 0) continue;
    Node& q = nodes[static_cast<size_t>(relu_bw)];
    int dc = p.output_buffer(q, 0);
    if (p.first_use(dc) != static_cast<size_t>(relu_bw)) continue;
    pool.call.outputs[0] = q.call.outputs[0];
    pool.buffers[pool.call.inputs.size()] = dc;
    p.retarget(pool, "max_pool2d_backward_relu", fn);
    q.removed = true;
    applied.push_back("max_pool2d_backward+relu_backward");
    ++count;
  }
  return count;
}

// conv2d_backward_weight (dy, x -> dw) followed by sum (dy -> db, shape (1, O, 1, 1)).
int fuse_conv_backward_bias(Pass& p, std::vector<Node>& nodes, std::vector<std::string>& applied) {
  trt_kernel_fn fn = p.fused("conv2d_backward_weight_bias");
  if (!fn) return 0;
  int count = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& w = nodes[i];
    if (w.removed || w.call.kernel != "conv2d_backward_weight" || w.call.inputs.size() != 2) continue;
    const trt_tensor_view& dy = w.call.inputs[0];
    if (dy.ndim != 4) continue;
    for (const Use& u : p.uses(w.buffers[0])) {
      Node& sum = nodes[u.node];
      if (u.node <= i || sum.call.kernel != "sum" || u.output || sum.segment != w.segment ||
          !same_view(sum.call.inputs[0], dy))
        continue;
      const trt_tensor_view& out = sum.call.outputs[0];
      if (out.ndim != 4 || out.sizes[0] != 1 || out.sizes[1] != dy.sizes[1] || out.sizes[2] != 1 || out.sizes[3] != 1)
        continue;
      int db = p.output_buffer(sum, 0);
      if (p.first_use(db) != u.node) continue;
      trt_tensor_view db_view = out;  // (1, O, 1, 1) as (O)
      db_view.ndim = 1;
      db_view.sizes[0] = out.sizes[1];
      db_view.strides[0] = out.strides[1];
      w.call.outputs.push_back(db_view);
      w.buffers.push_back(db);
      p.retarget(w, "conv2d_backward_weight_bias", fn);
      sum.removed = true;
      applied.push_back("conv2d_backward_weight+bias");
      ++count;
      break;
    }
  }
  return count;
}

// max_pool2d_backward_relu (dy, c, y -> dc) whose dc only conv2d_backward_weight_bias
// (dc, x -> dw, db) reads: one node where the conv's weight gradient runs, the
// pooling's backward computed plane by plane inside it. Nothing between the two
// may write dy, c or y, which the fused node reads later than the pooling did.
int fuse_pool_backward_into_conv_weight(Pass& p, std::vector<Node>& nodes, std::vector<std::string>& applied) {
  trt_kernel_fn fn = p.fused("pool_relu_conv2d_backward_weight_bias");
  if (!fn) return 0;
  int count = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& pool = nodes[i];
    if (pool.removed || pool.call.kernel != "max_pool2d_backward_relu" || pool.call.outputs.size() != 1 ||
        pool.call.inputs.size() != 3 || pool.call.int_attrs.size() != 6)
      continue;
    int dc = p.output_buffer(pool, 0);
    if (!p.internal(dc)) continue;
    std::vector<Use> dc_uses = p.uses(dc);
    if (dc_uses.size() != 2 || dc_uses[0].node != i) continue;
    Node& conv = nodes[dc_uses[1].node];
    if (conv.call.kernel != "conv2d_backward_weight_bias" || dc_uses[1].output || dc_uses[1].view != 0 ||
        conv.segment != pool.segment || conv.call.int_attrs.size() != 7 ||
        !same_view(conv.call.inputs[0], pool.call.outputs[0]))
      continue;
    bool inputs_kept = true;
    for (size_t k = i + 1; k < dc_uses[1].node && inputs_kept; ++k) {
      const Node& between = nodes[k];
      if (between.removed) continue;
      for (size_t v = between.call.inputs.size(); v < between.buffers.size(); ++v)
        for (size_t in = 0; in < 3; ++in)
          if (between.buffers[v] == pool.buffers[in]) inputs_kept = false;
    }
    if (!inputs_kept) continue;
    // inputs [dy, c, y, x], outputs [dw, db], int_attrs [conv's 7, pool's 6]
    conv.call.inputs = {pool.call.inputs[0], pool.call.inputs[1], pool.call.inputs[2], conv.call.inputs[1]};
    std::vector<int> buffers{pool.buffers[0], pool.buffers[1], pool.buffers[2], conv.buffers[1]};
    buffers.insert(buffers.end(), conv.buffers.begin() + 2, conv.buffers.end());
    conv.buffers = std::move(buffers);
    conv.call.int_attrs.insert(conv.call.int_attrs.end(), pool.call.int_attrs.begin(), pool.call.int_attrs.end());
    p.retarget(conv, "pool_relu_conv2d_backward_weight_bias", fn);
    pool.removed = true;
    applied.push_back("max_pool2d_backward_relu+conv2d_backward_weight_bias");
    ++count;
  }
  return count;
}

}  // namespace

void fuse(Plan& plan, std::vector<std::string>& applied) {
  Pass pass(plan);
  fuse_conv_relu(pass, plan.nodes(), applied);
  fuse_pool_backward_relu(pass, plan.nodes(), applied);
  fuse_conv_backward_bias(pass, plan.nodes(), applied);
  fuse_pool_backward_into_conv_weight(pass, plan.nodes(), applied);
  fuse_elementwise_chains(plan, applied);
}

}  // namespace trainrt::compile
