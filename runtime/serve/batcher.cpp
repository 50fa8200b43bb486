// The request queue and inference thread of `trainrt serve` (see batcher.h).
#include "serve/batcher.h"

#include <cstring>
#include <stdexcept>

#include "serve/metrics.h"
#include "trainrt/autograd.h"
#include "trainrt/error.h"

namespace trainrt::serve {

Batcher::Batcher(Forward forward, BatchOptions options, Metrics* metrics)
    : forward_(std::move(forward)), options_(options), metrics_(metrics) {
  if (options_.max_batch < 1) throw std::invalid_argument("max_batch must be at least 1");
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() { stop(); }

std::future<Outputs> Batcher::submit(Inputs inputs) {
  Job job{std::move(inputs), {}};
  std::future<Outputs> result = job.promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw std::runtime_error("the server is shutting down");
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return result;
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Batcher::loop() {
  NoGradGuard no_grad;  // inference only; grad mode is per thread
  for (;;) {
    std::vector<Job> batch;
    int64_t rows = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      const auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
      // The first request always goes (submit's caller keeps rows <= max_batch);
      // then requests with the same sample shape while they fit.
      while (true) {
        if (!queue_.empty()) {
          Job& next = queue_.front();
          if (!batch.empty() && (next.inputs.row_shape != batch[0].inputs.row_shape ||
                                 rows + next.inputs.rows > options_.max_batch))
            break;
          rows += next.inputs.rows;
          batch.push_back(std::move(next));
          queue_.pop_front();
          if (rows >= options_.max_batch) break;
          continue;
        }
        if (stopping_) break;
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && queue_.empty()) break;
      }
    }
    run(batch, rows);
  }
}

void Batcher::run(std::vector<Job>& batch, int64_t rows) {
  try {
    // x: (rows, ...row_shape)
    Shape shape{rows};
    const Shape& row_shape = batch[0].inputs.row_shape;
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    Tensor x = Tensor::empty(shape, DType::Float32);
    float* dst = x.data<float>();
    for (const Job& job : batch) {
      std::memcpy(dst, job.inputs.values.data(), job.inputs.values.size() * sizeof(float));
      dst += job.inputs.values.size();
    }
    Tensor y = forward_(x);  // (rows, ...)
    if (y.dim() < 1 || y.size(0) != rows || y.dtype() != DType::Float32 || !y.is_contiguous())
      fail("the model's output " + y.shape_str() + " does not have one row per input (" + std::to_string(rows) +
           " inputs)");
    if (metrics_) metrics_->batch_done(rows);
    const float* src = y.data<float>();
    const int64_t row_numel = rows ? y.numel() / rows : 0;
    Shape out_row(y.sizes().begin() + 1, y.sizes().end());
    for (Job& job : batch) {
      Outputs out{out_row, job.inputs.rows, {}};
      out.values.assign(src, src + job.inputs.rows * row_numel);
      src += job.inputs.rows * row_numel;
      job.promise.set_value(std::move(out));
    }
  } catch (...) {
    for (Job& job : batch) {
      try {
        job.promise.set_exception(std::current_exception());
      } catch (const std::future_error&) {  // answered before the failure
      }
    }
  }
}

}  // namespace trainrt::serve
