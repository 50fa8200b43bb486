// Dynamic batching for `trainrt serve`: HTTP threads submit parsed inputs; one
// inference thread, the only one that touches the model (and its Lua state),
// takes up to max_batch rows of the same sample shape from the queue — waiting
// at most max_wait for more after the first — stacks them into one tensor
// (rows, ...), runs forward once and hands each request its rows back.
// Not here: HTTP, JSON, the model itself (forward is a function).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::serve {

class Metrics;

struct BatchOptions {
  int64_t max_batch = 64;                       // rows per forward
  std::chrono::microseconds max_wait{2000};     // after the first request, wait this long for more
};

// Inputs of one request: `rows` samples of shape `row_shape`, float32, row after row.
struct Inputs {
  Shape row_shape;
  int64_t rows = 0;
  std::vector<float> values;
};

// The model's answer for one request: `rows` outputs of shape `row_shape`.
struct Outputs {
  Shape row_shape;
  int64_t rows = 0;
  std::vector<float> values;
};

class Batcher {
 public:
  // forward: x (N, ...) float32 CPU -> y (N, ...) float32 contiguous CPU; runs on the inference thread only.
  using Forward = std::function<Tensor(const Tensor&)>;
  Batcher(Forward forward, BatchOptions options, Metrics* metrics = nullptr);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues a request. The future gives its outputs, or rethrows forward's
  // error (every request of the failed batch gets it). Throws when stopped.
  std::future<Outputs> submit(Inputs inputs);
  // Answers everything already queued, then ends the inference thread. Idempotent.
  void stop();

 private:
  struct Job {
    Inputs inputs;
    std::promise<Outputs> promise;
  };
  void loop();
  void run(std::vector<Job>& batch, int64_t rows);

  Forward forward_;
  BatchOptions options_;
  Metrics* metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace trainrt::serve
