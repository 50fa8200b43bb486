// Plan construction and replay (plan.h): buffers from the recorded storages,
// fusion, the memory plan, and one queue task per segment.
#include "compile/plan.h"

#include <algorithm>

#include "trainrt/error.h"
#include "trainrt/stream.h"

namespace trainrt::compile {

Plan::Plan(capture::Recording&& recording, const std::vector<StoragePtr>& keep_alive) {
  TRT_CHECK(recording.failure.empty(), "compile: cannot plan a step that ", recording.failure);
  if (!recording.kernels.empty()) device_ = recording.kernels.front().device;

  // Every recorded storage becomes a buffer. The step's own storages that have
  // died (the recording holds them weakly) are internal: the arena takes them.
  // Live ones are referred to from outside (a gradient, a result) and stay.
  for (capture::RecordedStorage& rs : recording.storages) {
    Buffer b;
    b.base = rs.base;
    b.bytes = rs.bytes;
    if (rs.created && !rs.host_written) {
      b.storage = rs.weak.lock();
      bool kept = std::any_of(keep_alive.begin(), keep_alive.end(), [&](const StoragePtr& p) { return p == b.storage; });
      b.internal = !b.storage && !kept;
    } else {
      b.storage = std::move(rs.strong);
      bool kept = std::any_of(keep_alive.begin(), keep_alive.end(), [&](const StoragePtr& p) { return p == b.storage; });
      // Memory from before the step that nothing but the recording refers to any
      // more: the step read a value and then replaced it (gradients summed
      // across steps without zero_grad). A replay would read the stale value.
      TRT_CHECK(!rs.used || kept || rs.created || b.storage.use_count() > 1,
                "it reads a tensor from before the step that it then replaces (gradient accumulation without "
                "zero_grad?), which a replay would read again");
    }
    buffers_.push_back(std::move(b));
  }

  size_t host_node = 0;
  for (size_t i = 0; i < recording.kernels.size(); ++i) {
    while (host_node < recording.host_node_after.size() && recording.host_node_after[host_node] <= i) ++host_node;
    auto& k = recording.kernels[i];
    Node node;
    node.call = std::move(k.call);
    node.segment = static_cast<int>(host_node);
    node.buffers = std::move(k.storage);
    nodes_.push_back(std::move(node));
  }
  stats_.recorded_kernels = nodes_.size();
  segment_nodes_.resize(recording.host_node_after.size() + 1);

  fuse(*this, stats_.fusions);
  choose_channel_blocked_layout(*this, stats_.fusions);
  finish_layout();
  for (size_t b = 0; b < buffers_.size(); ++b) {
    const StoragePtr& storage = buffers_[b].storage;
    bool kept = std::any_of(keep_alive.begin(), keep_alive.end(), [&](const StoragePtr& p) { return p == storage; });
    if (storage && !kept) watched_.emplace_back(b, storage.use_count());
  }
}

Plan::~Plan() = default;

bool Plan::state_intact() const {
  return std::all_of(watched_.begin(), watched_.end(),
                     [&](const auto& w) { return buffers_[w.first].storage.use_count() >= w.second; });
}

void Plan::finish_layout() {
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.removed; }), nodes_.end());
  stats_.kernels = nodes_.size();
  for (const Node& n : nodes_) stats_.kernel_names.push_back(n.call.kernel);

  // Buffers no node uses any more (a fused-away intermediate) are dropped.
  std::vector<bool> used(buffers_.size(), false);
  for (const Node& n : nodes_)
    for (int b : n.buffers) used[static_cast<size_t>(b)] = true;
  for (size_t b = 0; b < buffers_.size(); ++b)
    if (!used[b]) buffers_[b].storage.reset();

  for (size_t b = 0; b < buffers_.size(); ++b)
    if (buffers_[b].internal && used[b]) stats_.internal_bytes += buffers_[b].bytes;
  stats_.arena_bytes = plan_memory(nodes_, buffers_);
  if (stats_.arena_bytes) arena_ = std::make_shared<Storage>(stats_.arena_bytes, device_);
  for (Node& n : nodes_) {
    size_t v = 0;
    auto relocate = [&](trt_tensor_view& view) {
      const Buffer& b = buffers_[static_cast<size_t>(n.buffers[v++])];
      if (!b.internal || !view.data) return;
      view.data = static_cast<char*>(arena_->data()) + b.arena_offset + (static_cast<char*>(view.data) - b.base);
    };
    for (auto& view : n.call.inputs) relocate(view);
    for (auto& view : n.call.outputs) relocate(view);
  }

  segment_uses_.assign(segment_nodes_.size(), {});
  for (size_t i = 0; i < nodes_.size(); ++i) {
    size_t s = static_cast<size_t>(nodes_[i].segment);
    segment_nodes_[s].push_back(i);
    for (int b : nodes_[i].buffers) {
      const StoragePtr& storage = buffers_[static_cast<size_t>(b)].storage;
      auto& uses = segment_uses_[s];
      if (storage && std::find(uses.begin(), uses.end(), storage) == uses.end()) uses.push_back(storage);
    }
    if (arena_ && std::find(segment_uses_[s].begin(), segment_uses_[s].end(), arena_) == segment_uses_[s].end())
      segment_uses_[s].push_back(arena_);
  }
}

void Plan::launch_segment(size_t s, const std::shared_ptr<Plan>& self) {
  if (segment_nodes_[s].empty()) return;
  auto task = [self, s]() {
    for (size_t i : self->segment_nodes_[s]) run_kernel_call(self->nodes_[i].call);
  };
  uint64_t position = launch(device_, "compiled step", std::move(task));
  if (position)
    for (const StoragePtr& storage : segment_uses_[s]) storage->note_use(device_, position);
}

}  // namespace trainrt::compile
