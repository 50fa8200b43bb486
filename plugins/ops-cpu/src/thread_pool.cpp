// A persistent pool for run_tasks: workers are started on first use and grow to
// the largest task count asked for; they sleep between jobs.
#include "thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace trt_cpu {
namespace {

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Returns false when another job holds the pool (the caller then runs serially).
  bool run(int tasks, const std::function<void(int)>& task) {
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard lock(mutex_);
      while (static_cast<int>(workers_.size()) < tasks - 1) workers_.emplace_back([this] { work(); });
      task_ = &task;
      tasks_ = tasks;
      next_.store(1);
      unfinished_ = tasks - 1;
      ++generation_;
    }
    wake_.notify_all();
    task(0);
    int ran = claim_and_run();
    std::unique_lock lock(mutex_);
    unfinished_ -= ran;
    done_.wait(lock, [this] { return unfinished_ == 0; });
    task_ = nullptr;
    return true;
  }

 private:
  // Runs tasks still unclaimed; returns how many this thread ran.
  int claim_and_run() {
    int ran = 0;
    for (int i = next_.fetch_add(1); i < tasks_; i = next_.fetch_add(1)) {
      (*task_)(i);
      ++ran;
    }
    return ran;
  }

  void work() {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      lock.unlock();
      int ran = claim_and_run();
      lock.lock();
      unfinished_ -= ran;
      if (unfinished_ == 0) done_.notify_one();
    }
  }

  std::mutex busy_;   // one job at a time
  std::mutex mutex_;  // guards the fields below
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0;
  int unfinished_ = 0;  // tasks 1.. not yet finished
  std::atomic<int> next_{0};
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void run_tasks(int tasks, const std::function<void(int)>& task) {
  if (tasks <= 1 || !pool().run(tasks, task))
    for (int i = 0; i < tasks; ++i) task(i);
}

}  // namespace trt_cpu
