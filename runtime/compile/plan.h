// A captured step as a plan: the recorded kernel calls (trainrt/capture.h)
// with their tensor memory resolved to buffers, rewritten by fusion passes
// (fusion.cpp) and laid out by the memory plan (memory_plan.cpp), replayed as
// one queue task per segment between host nodes. Device-neutral: a node is a
// kernel call of whatever plugin registered it; the plan never looks inside.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/capture.h"

namespace trainrt::compile {

// One distinct Storage the step's kernels touched. Internal buffers were made
// during the capture and freed by its end (nothing outside the step kept
// them): the memory plan places them in one arena. The rest (parameters, gradients, optimizer
// state, the step's inputs and outputs, constants) keep their own storage.
struct Buffer {
  StoragePtr storage;     // null for an internal buffer: it lives in the arena
  char* base = nullptr;   // the storage's address at capture
  size_t bytes = 0;
  bool internal = false;
  size_t arena_offset = 0;
};

struct Node {
  KernelCall call;
  std::vector<int> buffers;  // per view, inputs then outputs: index into Plan::buffers
  int segment = 0;           // host nodes split the step into segments
  bool removed = false;      // folded into another node by a fusion pass
};

struct PlanStats {
  size_t recorded_kernels = 0, kernels = 0;
  std::vector<std::string> fusions;  // "conv2d+relu" per fused pair
  size_t internal_bytes = 0;         // what the step's intermediates took as separate blocks
  size_t arena_bytes = 0;            // what they take in the arena
  std::vector<std::string> kernel_names;  // the planned nodes' kernels, in launch order
};

class Plan {
 public:
  // Builds a plan from a successful recording. `keep_alive`: storages that
  // must keep their own memory whatever their reference count says.
  Plan(capture::Recording&& recording, const std::vector<StoragePtr>& keep_alive);
  ~Plan();

  size_t segments() const { return segment_nodes_.size(); }
  // Enqueues segment s as one task on the plan's device queue.
  void launch_segment(size_t s, const std::shared_ptr<Plan>& self);
  const PlanStats& stats() const { return stats_; }
  // False once a storage the step wrote and something outside the plan held
  // at capture (a parameter, its .grad) has lost a holder: it was replaced
  // (zero_grad() outside the step, a parameter swapped), and a replay would
  // update memory nobody reads any more.
  bool state_intact() const;
  Device device() const { return device_; }

  // For the passes.
  std::vector<Node>& nodes() { return nodes_; }
  std::vector<Buffer>& buffers() { return buffers_; }

 private:
  void finish_layout();  // compacts removed nodes, runs the memory plan, groups segments

  Device device_ = Device::cpu();
  std::vector<Node> nodes_;
  std::vector<Buffer> buffers_;
  std::vector<std::vector<size_t>> segment_nodes_;    // node indices per segment
  std::vector<std::vector<StoragePtr>> segment_uses_;  // storages a segment's kernels touch
  std::shared_ptr<Storage> arena_;
  std::vector<std::pair<size_t, long>> watched_;  // buffer, its use_count once planned
  PlanStats stats_;
};

// Fusion passes (fusion.cpp): rewrite nodes in place, marking folded ones removed.
void fuse(Plan& plan, std::vector<std::string>& applied);
// Runs of element-wise kernels as one elementwise_chain node (elementwise_chains.cpp); fuse() calls it last.
void fuse_elementwise_chains(Plan& plan, std::vector<std::string>& applied);
// Layout pass (channel_blocked.cpp): activations between oneDNN convolutions
// and max-poolings as (N, C/8, H, W, 8) views; one "channel_blocked_layout" in
// `applied` per buffer. Runs after fuse().
void choose_channel_blocked_layout(Plan& plan, std::vector<std::string>& applied);
// Memory plan (memory_plan.cpp): arena offsets for internal buffers that do
// not live at the same time; returns the arena size in bytes.
size_t plan_memory(const std::vector<Node>& nodes, std::vector<Buffer>& buffers);

}  // namespace trainrt::compile
