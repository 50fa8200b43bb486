// The CPU kernels' worker threads: one persistent pool (threads sleep on a
// condition variable between jobs, so they never spin against OpenBLAS's own
// threads), and parallel_for on top of it. A job that arrives while another is
// running (a kernel called from a DataLoader worker, or a nested loop) runs
// serially on its caller instead of waiting.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>

namespace trt_cpu {

// Runs task(i) for i in [0, tasks); task 0 on the calling thread. Returns when all finished.
void run_tasks(int tasks, const std::function<void(int)>& task);

// Runs fn(begin, end) over [0, n) split into up to `threads` contiguous chunks of
// at least min_per_thread items; small n or threads == 1 stays on the caller.
template <typename Fn> void parallel_for(int64_t n, int threads, Fn&& fn, int64_t min_per_thread = 1) {
  int64_t t = std::min<int64_t>(threads, n / std::max<int64_t>(min_per_thread, 1));
  if (t <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  int64_t chunk = (n + t - 1) / t;
  run_tasks(static_cast<int>(t), [&](int i) {
    int64_t begin = i * chunk, end = std::min(n, begin + chunk);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace trt_cpu
