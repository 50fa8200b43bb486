// Layout pass over a planned step (plan.h): activations that only convolutions
// and max-poolings touch are kept channel-blocked, (N, C, H, W) stored as the
// 5-D view (N, C/8, H, W, 8) (oneDNN's nChw8c, plugins/ops-cpu/src/
// channel_blocked.h). oneDNN's AVX2 convolutions compute in that layout, so
// each NCHW activation cost a reorder on the way in and out of every
// convolution: 5 of the seed CNN's ~40 ms step at batch 64, 1 thread.
//
// A buffer is blocked when
//   - it is internal to the step (nobody outside sees its layout), float32,
//     one contiguous 4-D (N, C, H, W) view everywhere, with C % 8 == 0;
//   - every kernel that touches it takes blocked operands there (kBlockable:
//     a convolution's activations, any max-pooling operand);
//   - a convolution touches it, and every convolution that touches it has at
//     least 8 input channels per group: those run on oneDNN. Thinner ones (a
//     first layer, depthwise) run direct kernels over NCHW planes, which
//     would reorder inside. (Measured for the seed CNN's first layer writing
//     its output blocked, through a transpose in cache: forward +0.4 ms,
//     weight gradient +0.5 ms, more than its pooling then saved. With the
//     CPU plugin's AVX2 tile kernels, which write a grayscale first layer's
//     output blocked natively, the forward would save about 0.5 ms, but its
//     pooling over a blocked input measured no faster than over NCHW planes
//     and the fused pooling backward would need a blocked c: not done.)
// Max-pooling kernels between two blocked tensors work across the 8 channels
// of a block at once, faster than over NCHW planes.
// The device's plugin opts in by registering reorder_channel_blocked (the
// CPU plugin does when built with oneDNN); TRAINRT_COMPILE_LAYOUT=nchw turns
// the pass off, to compare. The values are the same: the
// kernels compute the same sums in the same order, only the addresses move.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "compile/plan.h"

namespace trainrt::compile {
namespace {

constexpr int64_t kBlock = 8;

struct Blockable {
  const char* kernel;
  std::vector<size_t> inputs, outputs;  // the activation operands
};

const Blockable kBlockable[] = {
    {"conv2d", {0}, {0}},
    {"conv2d_relu", {0}, {0}},
    {"conv2d_backward_input", {0}, {0}},
    {"conv2d_backward_weight", {0, 1}, {}},
    {"conv2d_backward_weight_bias", {0, 1}, {}},
    {"max_pool2d", {0}, {0}},
    {"max_pool2d_backward", {0, 1, 2}, {0}},
    {"max_pool2d_backward_relu", {0, 1, 2}, {0}},
    {"pool_relu_conv2d_backward_weight_bias", {0, 2}, {}},  // the pooling's dy and y
};

const Blockable* blockable(const std::string& kernel) {
  for (const Blockable& b : kBlockable)
    if (kernel == b.kernel) return &b;
  return nullptr;
}

bool is_conv(const std::string& kernel) { return kernel.rfind("conv2d", 0) == 0; }

// Input channels per group of a convolution node: its weight (O, C/G, kH, kW).
int64_t channels_per_group(const Node& n) {
  const trt_tensor_view& w = n.call.kernel == "conv2d_backward_weight" ||
                                     n.call.kernel == "conv2d_backward_weight_bias"
                                 ? n.call.outputs[0]
                                 : n.call.inputs[1];
  return w.sizes[1];
}

bool contiguous_nchw(const trt_tensor_view& v) {
  if (v.ndim != 4 || v.dtype != TRT_FLOAT32) return false;
  int64_t expect = 1;
  for (int d = 3; d >= 0; --d) {
    if (v.strides[d] != expect) return false;
    expect *= v.sizes[d];
  }
  return true;
}

trt_tensor_view blocked(const trt_tensor_view& v) {
  trt_tensor_view b = v;
  b.ndim = 5;
  int64_t sizes[5] = {v.sizes[0], v.sizes[1] / kBlock, v.sizes[2], v.sizes[3], kBlock};
  int64_t stride = 1;
  for (int d = 4; d >= 0; --d) {
    b.sizes[d] = sizes[d];
    b.strides[d] = stride;
    stride *= sizes[d];
  }
  return b;
}

struct View {
  Node* node;
  trt_tensor_view* view;
};

// The views of `buffer` when it qualifies (see the top of the file), else none.
std::vector<View> blockable_views(Plan& plan, int buffer) {
  const Buffer& b = plan.buffers()[static_cast<size_t>(buffer)];
  if (!b.internal) return {};
  std::vector<View> views;
  const trt_tensor_view* first = nullptr;
  bool on_conv = false;
  for (Node& n : plan.nodes()) {
    if (n.removed) continue;
    const Blockable* kind = nullptr;
    for (size_t v = 0; v < n.buffers.size(); ++v) {
      if (n.buffers[v] != buffer) continue;
      if (!kind && !(kind = blockable(n.call.kernel))) return {};
      bool output = v >= n.call.inputs.size();
      size_t k = output ? v - n.call.inputs.size() : v;
      const auto& allowed = output ? kind->outputs : kind->inputs;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return {};
      trt_tensor_view& view = output ? n.call.outputs[k] : n.call.inputs[k];
      if (!contiguous_nchw(view) || view.sizes[1] % kBlock != 0 || view.data != b.base) return {};
      if (first && std::memcmp(first->sizes, view.sizes, sizeof(int64_t) * 4) != 0) return {};
      first = &view;
      if (is_conv(n.call.kernel)) {
        if (channels_per_group(n) < kBlock) return {};
        on_conv = true;
      }
      views.push_back({&n, &view});
    }
  }
  if (!on_conv) return {};
  return views;
}

}  // namespace

void choose_channel_blocked_layout(Plan& plan, std::vector<std::string>& applied) {
  const char* env = std::getenv("TRAINRT_COMPILE_LAYOUT");
  if ((env && std::strcmp(env, "nchw") == 0) || !find_kernel("reorder_channel_blocked", plan.device().type)) return;
  for (size_t b = 0; b < plan.buffers().size(); ++b) {
    std::vector<View> views = blockable_views(plan, static_cast<int>(b));
    if (views.empty()) continue;
    for (View& v : views) *v.view = blocked(*v.view);
    applied.push_back("channel_blocked_layout");
  }
}

}  // namespace trainrt::compile
