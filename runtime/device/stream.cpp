// Device execution queues (see trainrt/stream.h): one worker thread per
// device runs launched tasks in order; positions count launched and finished
// tasks, so the host and other queues can wait for a point in the queue.
// Not here: what a task does (dispatch.cpp launches kernels, creation.cpp copies).
#include "trainrt/stream.h"

#include "trainrt/capture.h"
#include "trainrt/devices.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"

namespace trainrt {
namespace {

constexpr size_t kMaxPending = 256;  // tasks launched but not yet started
constexpr int kSpins = 200;          // yields before the worker sleeps (~tens of microseconds)

class Queue {
 public:
  explicit Queue(Device device) : device_(device), worker_([this] { run(); }) {}

  uint64_t launch(std::string what, std::function<void()> fn) {
    std::unique_lock lock(mutex_);
    // Bounded, as a GPU's launch queue is: a host far ahead would hold every
    // tensor it freed in the meantime (the tasks keep them alive).
    if (tasks_.size() >= kMaxPending && std::this_thread::get_id() != worker_.get_id()) {
      ++waiters_;
      done_.wait(lock, [&] { return tasks_.size() < kMaxPending || stopped_; });
      --waiters_;
    }
    tasks_.push_back({std::move(what), std::move(fn)});
    pending_.store(tasks_.size(), std::memory_order_release);
    ++launched_;
    if (worker_sleeping_) wake_.notify_one();  // a futex call only when the worker sleeps
    return launched_;
  }

  uint64_t launched() {
    std::lock_guard lock(mutex_);
    return launched_;
  }

  // Blocks until `position` has run, then raises (and clears) a pending error.
  void wait(uint64_t position) {
    std::unique_lock lock(mutex_);
    ++waiters_;
    done_.wait(lock, [&] { return finished_ >= position || stopped_; });
    --waiters_;
    if (!error_.empty()) {
      std::string message = std::move(error_);
      error_.clear();
      throw Error(message);
    }
  }

  Device device() const { return device_; }

  bool reached(uint64_t position) {
    std::lock_guard lock(mutex_);
    return finished_ >= position;
  }

  // Blocks this queue's worker (not the caller) until `other` reaches position.
  void wait_for(Queue& other, uint64_t position) {
    launch("wait for " + other.device_.str(), [&other, position] {
      std::unique_lock lock(other.mutex_);
      ++other.waiters_;
      other.done_.wait(lock, [&] { return other.finished_ >= position || other.stopped_; });
      --other.waiters_;
    });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      tasks_.clear();  // drops their tensor references: memory goes back to the allocator
      wake_.notify_all();
      done_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Task {
    std::string what;
    std::function<void()> fn;
  };

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (tasks_.empty() && !stopped_) {
        // Poll briefly before sleeping: a host in the middle of a step launches
        // the next kernel within microseconds, and a sleep costs two futex calls.
        lock.unlock();
        for (int spin = 0; spin < kSpins && pending_.load(std::memory_order_acquire) == 0; ++spin)
          std::this_thread::yield();
        lock.lock();
        worker_sleeping_ = true;
        wake_.wait(lock, [&] { return stopped_ || !tasks_.empty(); });
        worker_sleeping_ = false;
      }
      if (stopped_) return;
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      pending_.store(tasks_.size(), std::memory_order_release);
      bool skip = !error_.empty();  // sticky: nothing runs after a failure until it is raised
      lock.unlock();
      std::string failure;
      if (!skip) {
        try {
          task.fn();
        } catch (const LaunchedTaskError& e) {
          failure = e.what();
          task.what = e.launched;
        } catch (const std::exception& e) {
          failure = e.what();
        } catch (...) {
          failure = "unknown exception";
        }
      }
      task.fn = nullptr;  // release the task's tensors before the position advances
      lock.lock();
      if (!failure.empty() && error_.empty())
        error_ = "asynchronous error on " + device_.str() + ": " + failure + " (raised by " + task.what +
                 ", launched earlier; TRAINRT_SYNC=1 raises it where it is launched)";
      ++finished_;
      if (waiters_ > 0) done_.notify_all();
    }
  }

  Device device_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<Task> tasks_;
  uint64_t launched_ = 0, finished_ = 0;
  int waiters_ = 0;                  // threads in done_.wait
  bool worker_sleeping_ = false;
  std::atomic<size_t> pending_{0};   // tasks_.size(), readable without the lock
  std::string error_;
  bool stopped_ = false;
  std::thread worker_;  // last: starts after the fields above exist
};

struct Queues {
  std::mutex mutex;
  std::map<std::pair<int32_t, int32_t>, Queue*> by_device;  // never erased: a Queue lives until shutdown
  bool shut_down = false;
};

Queues& queues() {
  static Queues* q = new Queues;  // leaked on purpose: tasks may still run during static destruction
  return *q;
}

bool env_sync() {
  const char* v = std::getenv("TRAINRT_SYNC");
  return v && *v && std::string(v) != "0";
}

std::atomic<bool>& async_flag() {
  static std::atomic<bool> flag{!env_sync()};
  return flag;
}

std::atomic<int>& cpu_count() {
  static std::atomic<int> count{1};
  return count;
}

// The queue of `device`, created on first use; null when execution is synchronous.
Queue* queue_of(Device device) {
  if (!async_execution()) return nullptr;
  Queues& q = queues();
  std::lock_guard lock(q.mutex);
  if (q.shut_down) return nullptr;
  auto key = std::make_pair(static_cast<int32_t>(device.type), device.index);
  auto it = q.by_device.find(key);
  if (it != q.by_device.end()) return it->second;
  if (q.by_device.empty()) std::atexit(shutdown_queues);
  Queue* created = new Queue(device);
  q.by_device.emplace(key, created);
  return created;
}

Queue* existing_queue(Device device) {
  Queues& q = queues();
  std::lock_guard lock(q.mutex);
  auto it = q.by_device.find({static_cast<int32_t>(device.type), device.index});
  return it == q.by_device.end() ? nullptr : it->second;
}

}  // namespace

bool async_execution() { return async_flag().load(std::memory_order_relaxed); }
void set_async_execution(bool enabled) { async_flag() = enabled; }

void set_cpu_device_count(int count) {
  TRT_CHECK(count >= 1 && count <= 256, "devices: between 1 and 256 CPU devices, got ", count);
  cpu_count() = count;
}
int cpu_device_count() { return cpu_count().load(); }

int threads_for(Device device) {
  if (device.type != DeviceType::CPU) return num_threads();
  return std::max(1, num_threads() / cpu_device_count());
}

uint64_t launch(Device device, std::string what, std::function<void()> task) {
  capture::on_launch(what);
  if (Queue* q = queue_of(device)) return q->launch(std::move(what), std::move(task));
  task();
  // Synchronous execution waits for the device too (CUDA_LAUNCH_BLOCKING=1's meaning).
  if (device.type != DeviceType::CPU) synchronize_device_stream(device);
  return 0;
}

uint64_t launched_position(Device device) {
  Queue* q = async_execution() ? existing_queue(device) : nullptr;
  return q ? q->launched() : 0;
}

// A device's queue has run a kernel once the host task enqueued it on the
// device's stream: the host then also waits for the stream (CPU: nothing more).
void wait_position(Device device, uint64_t position) {
  if (position == 0) return;
  if (Queue* q = existing_queue(device)) q->wait(position);
  if (device.type != DeviceType::CPU) synchronize_device_stream(device);
}

void queue_wait(Device device, Device other, uint64_t position) {
  if (position == 0 || device == other) return;
  Queue* target = queue_of(device);
  Queue* source = existing_queue(other);
  bool host_done = !source || source->reached(position);
  if (!host_done) {
    if (target) target->wait_for(*source, position);
    else source->wait(position);  // synchronous launches: the host waits instead
  }
  // The producer's kernels are enqueued on its stream, not necessarily done:
  // `device` waits for an event on that stream (the CPU's queue blocks on it).
  if (other.type != DeviceType::CPU)
    launch(device, "wait for " + other.str() + "'s stream", [device, other] { device_stream_wait(device, other); });
}

void synchronize(Device device) {
  capture::on_synchronize();
  if (Queue* q = existing_queue(device)) q->wait(q->launched());
  if (device.type != DeviceType::CPU) synchronize_device_stream(device);
}

void synchronize_all() {
  capture::on_synchronize();
  std::vector<Queue*> all;
  {
    Queues& q = queues();
    std::lock_guard lock(q.mutex);
    for (auto& [key, queue] : q.by_device) all.push_back(queue);
  }
  for (Queue* q : all) {
    q->wait(q->launched());
    if (q->device().type != DeviceType::CPU) synchronize_device_stream(q->device());
  }
}

void shutdown_queues() {
  std::vector<Queue*> all;
  {
    Queues& q = queues();
    std::lock_guard lock(q.mutex);
    q.shut_down = true;
    for (auto& [key, queue] : q.by_device) all.push_back(queue);
  }
  for (Queue* q : all) q->stop();
}

}  // namespace trainrt
