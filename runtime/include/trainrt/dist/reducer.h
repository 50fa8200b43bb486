// The DDP gradient reducer (PyTorch's reducer.cpp, Horovod's tensor fusion):
// parameters are grouped into buckets of about 25 MB in reverse registration
// order (gradients arrive roughly last layer first); a gradient-ready hook on
// each parameter marks it ready, and a bucket whose parameters are all ready
// starts its all-reduce (average) at once, while backward goes on computing
// earlier layers. Buckets start strictly in bucket order, so every rank issues
// the same collectives in the same order. When the backward ends, the reducer
// waits for the buckets and writes the averaged gradients into .grad.
//   - set_sync(false) (no_sync) leaves gradients local and accumulating;
//     the next synchronised backward averages the accumulated sum.
//   - A parameter that got no gradient is an error naming it, unless
//     find_unused: then it contributes zeros, and a parameter unused on every
//     rank keeps no gradient (as in PyTorch).
// Deliberately not here: broadcasting the initial parameters (the ddp strategy
// does it), optimizer steps.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/dist/process_group.h"

namespace trainrt::dist {

struct ReducerOptions {
  int64_t bucket_bytes = 25 * 1024 * 1024;
  int64_t first_bucket_bytes = 1024 * 1024;  // the last layers' bucket starts sooner when small
  bool find_unused = false;
};

struct ReducerStats {
  int64_t steps = 0;              // synchronised backward passes
  int64_t buckets = 0;
  int64_t buckets_started_during_backward = 0;  // over all steps: started while some gradient was still missing
  double wait_seconds = 0;        // time blocked after backward waiting for all-reduce, over all steps
  double last_wait_seconds = 0;
};

class Reducer {
 public:
  // params: leaves that require grad, in registration order; names for messages.
  Reducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, std::vector<std::string> names,
          ReducerOptions options = {});
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  void set_sync(bool sync) { sync_ = sync; }
  bool sync() const { return sync_; }
  const ReducerStats& stats() const { return stats_; }
  // Parameter indices of each bucket, in launch order (for tests and docs).
  std::vector<std::vector<size_t>> bucket_layout() const;

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    DType dtype = DType::Float32;
    int64_t numel = 0;
    // per step
    size_t pending = 0;
    Tensor flat;
    WorkPtr work;
  };

  void build_buckets();
  void on_grad_ready(size_t index);
  void begin_step();
  void launch_ready_buckets();
  void launch(Bucket& bucket);
  void finalize();
  void reset_step();

  std::shared_ptr<ProcessGroup> group_;
  std::vector<Tensor> params_;
  std::vector<std::string> names_;
  ReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;     // param index -> bucket index
  std::vector<int64_t> offset_of_;    // param index -> element offset in its bucket
  std::vector<uint64_t> hook_ids_;
  bool sync_ = true;
  // per step
  bool in_step_ = false;
  std::vector<char> ready_;
  std::vector<char> used_;            // got a gradient this step (before zero-filling)
  size_t ready_count_ = 0;
  size_t next_to_launch_ = 0;
  ReducerStats stats_;
};

}  // namespace trainrt::dist
