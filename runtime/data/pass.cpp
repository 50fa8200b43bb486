// One epoch of batches, optionally prefetched on worker threads; see pass.h.
#include "pass.h"

#include <algorithm>
#include <chrono>

#include "trainrt/metrics.h"

namespace trainrt::data {

DataLoader::Pass::Pass(const Dataset& dataset, const DataLoaderOptions& options, std::vector<int64_t> indices,
                       int64_t num_batches, int64_t first_batch)
    : dataset_(dataset), options_(options), indices_(std::move(indices)), num_batches_(num_batches) {
  next_ = claimed_ = std::clamp<int64_t>(first_batch, 0, num_batches_);
  if (options_.workers <= 0) return;
  capacity_ = options_.workers * std::max<int64_t>(1, options_.prefetch_factor);
  try {
    for (int64_t w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { work(); });
  } catch (...) {
    stop_workers();
    throw;
  }
}

DataLoader::Pass::~Pass() { stop_workers(); }

void DataLoader::Pass::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::vector<Tensor> DataLoader::Pass::build(int64_t b) const {
  const int64_t B = options_.batch_size;
  auto first = indices_.begin() + b * B;
  auto last = indices_.begin() + std::min<int64_t>((b + 1) * B, static_cast<int64_t>(indices_.size()));
  std::vector<Tensor> batch = collate(dataset_, std::vector<int64_t>(first, last), options_.normalize);
  if (options_.transform) options_.transform(batch);
  return batch;
}

void DataLoader::Pass::work() {
  for (;;) {
    int64_t b;
    {
      std::unique_lock lock(mutex_);
      space_.wait(lock, [&] { return stop_ || claimed_ >= num_batches_ || claimed_ < next_ + capacity_; });
      if (stop_ || claimed_ >= num_batches_) return;
      b = claimed_++;
    }
    Slot slot;
    try {
      slot.batch = build(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      if (slot.error) stop_ = true;  // batches before b are claimed already and still arrive
      ready_[b] = std::move(slot);
    }
    produced_.notify_all();
  }
}

bool DataLoader::Pass::next(std::vector<Tensor>& batch) {
  if (next_ >= num_batches_) return false;
  const auto start = std::chrono::steady_clock::now();
  auto waited = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (threads_.empty()) {
    batch = build(next_);
    ++next_;
    metrics::record_data_wait(waited());
    return true;
  }
  Slot slot;
  {
    std::unique_lock lock(mutex_);
    produced_.wait(lock, [&] { return ready_.count(next_) > 0; });
    metrics::record_data_wait(waited());
    auto it = ready_.find(next_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_;
  }
  space_.notify_all();
  if (slot.error) {
    next_ = num_batches_;  // the pass is over
    std::rethrow_exception(slot.error);
  }
  batch = std::move(slot.batch);
  return true;
}

}  // namespace trainrt::data
