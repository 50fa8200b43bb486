// DDP's bucketed gradient averaging (see reducer.h).
#include "trainrt/dist/reducer.h"

#include <chrono>

#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"

namespace trainrt::dist {

Reducer::Reducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, std::vector<std::string> names,
                 ReducerOptions options)
    : group_(std::move(group)), params_(std::move(params)), names_(std::move(names)), options_(options) {
  TRT_CHECK(group_, "ddp reducer: no process group");
  TRT_CHECK(!params_.empty(), "ddp reducer: the model has no parameters that require grad");
  TRT_CHECK(names_.size() == params_.size(), "ddp reducer: ", params_.size(), " parameters but ", names_.size(),
            " names");
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    TRT_CHECK(p.defined() && p.is_leaf() && p.requires_grad(), "ddp reducer: parameter ", names_[i],
              " is not a leaf that requires grad");
    TRT_CHECK(p.device() == group_->device(), "ddp reducer: parameter ", names_[i], " is on ", p.device().str(),
              " but the process group moves ", group_->device().str(), " tensors; move the model first");
  }
  build_buckets();
  ready_.assign(params_.size(), 0);
  used_.assign(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i)
    hook_ids_.push_back(add_grad_ready_hook(params_[i], [this, i] { on_grad_ready(i); }));
}

Reducer::~Reducer() {
  for (size_t i = 0; i < params_.size(); ++i) remove_grad_ready_hook(params_[i], hook_ids_[i]);
  for (Bucket& b : buckets_) b.work.reset();  // waits for anything still in flight
}

// Reverse registration order; a bucket closes once it reaches its cap, and a
// dtype change starts a new one (a bucket is one flat tensor).
void Reducer::build_buckets() {
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    int64_t cap = buckets_.size() == 1 ? options_.first_bucket_bytes : options_.bucket_bytes;
    bool start_new = buckets_.empty() || buckets_.back().dtype != p.dtype() ||
                     buckets_.back().numel * static_cast<int64_t>(dtype_size(p.dtype())) >= cap;
    if (start_new) {
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
    }
    Bucket& b = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = b.numel;
    b.params.push_back(k);
    b.numel += p.numel();
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
}

std::vector<std::vector<size_t>> Reducer::bucket_layout() const {
  std::vector<std::vector<size_t>> out;
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

void Reducer::begin_step() {
  in_step_ = true;
  for (Bucket& b : buckets_) b.pending = b.params.size();
  queue_backward_callback([this] { finalize(); });
}

void Reducer::on_grad_ready(size_t index) {
  if (!sync_) return;
  if (!in_step_) begin_step();
  if (ready_[index]) {  // only when the previous backward failed before its end
    reset_step();
    fail("ddp: parameter " + names_[index] +
         " is ready again although the previous backward pass never finished (it failed part-way); the ranks' "
         "collectives are out of step: restart the job");
  }
  ready_[index] = 1;
  used_[index] = 1;
  ++ready_count_;
  if (--buckets_[bucket_of_[index]].pending == 0) {
    size_t before = next_to_launch_;
    launch_ready_buckets();
    // Started while other parameters still wait for their gradients: overlapped with backward.
    if (ready_count_ < params_.size()) stats_.buckets_started_during_backward += next_to_launch_ - before;
  }
}

void Reducer::launch_ready_buckets() {
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_].pending == 0) launch(buckets_[next_to_launch_++]);
}

// Copies the bucket's gradients into one flat tensor and starts its average.
void Reducer::launch(Bucket& bucket) {
  NoGradGuard no_grad;
  bucket.flat = Tensor::empty({bucket.numel}, bucket.dtype, group_->device());
  for (size_t k : bucket.params) {
    Tensor grad = params_[k].grad();
    Tensor slot = bucket.flat.narrow(0, offset_of_[k], params_[k].numel()).view(params_[k].sizes());
    if (grad.defined()) ops::copy_(slot, grad);
    else ops::fill_(slot, 0.0);  // unused here (find_unused): contributes zeros
  }
  bucket.work = group_->all_reduce(bucket.flat, ReduceOp::Avg);
}

void Reducer::finalize() {
  std::vector<std::string> missing;
  for (size_t i = 0; i < params_.size(); ++i)
    if (!ready_[i]) missing.push_back(names_[i]);
  if (!missing.empty()) {
    if (!options_.find_unused) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 8; ++i) list += (i ? ", " : "") + missing[i];
      if (missing.size() > 8) list += ", ... (" + std::to_string(missing.size()) + " in all)";
      reset_step();
      fail("ddp: parameters that got no gradient in this backward pass: " + list +
           "; if the model leaves some parameters unused on purpose, pass find_unused_parameters = true to the "
           "ddp strategy (--set ddp.find_unused_parameters=true)");
    }
    for (size_t i = 0; i < params_.size(); ++i)
      if (!ready_[i]) {
        ready_[i] = 1;
        --buckets_[bucket_of_[i]].pending;
      }
    launch_ready_buckets();
  }
  // Which parameters some rank used (find_unused only: one small all-reduce).
  Tensor used_anywhere;
  if (options_.find_unused) {
    NoGradGuard no_grad;
    std::vector<double> flags(used_.begin(), used_.end());
    used_anywhere = Tensor::from_vector(flags, {static_cast<int64_t>(flags.size())}, DType::Int64);
    group_->all_reduce(used_anywhere, ReduceOp::Sum)->wait();
  }
  auto start = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) b.work->wait();
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats_.wait_seconds += waited;
  stats_.last_wait_seconds = waited;
  stats_.steps++;

  std::vector<double> used_count = used_anywhere.defined() ? used_anywhere.to_vector() : std::vector<double>();
  for (Bucket& b : buckets_) {
    for (size_t k : b.params) {
      if (!used_count.empty() && used_count[k] == 0) continue;  // unused on every rank: no gradient, as in PyTorch
      params_[k].set_grad(b.flat.narrow(0, offset_of_[k], params_[k].numel()).view(params_[k].sizes()));
    }
  }
  reset_step();
}

void Reducer::reset_step() {
  in_step_ = false;
  next_to_launch_ = 0;
  ready_count_ = 0;
  std::fill(ready_.begin(), ready_.end(), 0);
  std::fill(used_.begin(), used_.end(), 0);
  for (Bucket& b : buckets_) {
    b.pending = b.params.size();
    b.flat = Tensor();
    b.work.reset();
  }
}

}  // namespace trainrt::dist
