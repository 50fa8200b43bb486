// The device queues (trainrt/stream.h) on the CPU: launching returns before
// the kernel runs, the host waits where it reads, memory freed by the host is
// not reused while a queued kernel holds it, an error on a queue surfaces at
// the next wait naming the op and the shapes, copies between logical devices
// are ordered after the producer, and a host far ahead is held back. A task
// that blocks on a latch stands for a long kernel, so nothing here depends on
// timing. Each test picks the mode it checks (ctest runs every test in its own
// process, before any queue exists).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "test_util.h"
#include "trainrt/allocator.h"
#include "trainrt/stream.h"

namespace trainrt {
namespace {

// Holds a device's queue until released, like a kernel that runs for a long time.
class QueueBlocker {
 public:
  explicit QueueBlocker(Device device) {
    launch(device, "test blocker", [this] {
      std::unique_lock lock(mutex_);
      open_.wait(lock, [this] { return released_; });
    });
  }
  ~QueueBlocker() { release(); }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    open_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable open_;
  bool released_ = false;
};

Device cpu(int index) { return {DeviceType::CPU, index}; }

TEST(Stream, LaunchReturnsBeforeTheKernelRunsAndTheHostWaitsWhereItReads) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  Tensor x = ops::full({1000}, 2.0, DType::Float64);
  synchronize(cpu(0));
  QueueBlocker blocker(cpu(0));
  Tensor y = ops::mul(x, x);  // returns although the queue is held
  auto read = std::async(std::launch::async, [&] { return y.to_vector(); });
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "reading y must wait for the queued kernel";
  blocker.release();
  std::vector<double> values = read.get();
  EXPECT_EQ(values.front(), 4.0);
  EXPECT_EQ(values.back(), 4.0);
}

TEST(Stream, SyncRunsAtLaunch) {
  set_async_execution(false);  // the TRAINRT_SYNC=1 reference
  bool ran = false;
  EXPECT_EQ(launch(cpu(0), "test task", [&] { ran = true; }), 0u);
  EXPECT_TRUE(ran);
  Tensor target = Tensor::from_vector({1, 12}, {2}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::cross_entropy(test::random_tensor({2, 10}), target),
                        "cross_entropy: label 12 at index 1 out of range [0, 10)");
}

TEST(Stream, MemoryFreedWhileQueuedIsNotReusedUntilTheQueuePassesIt) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  Shape shape{256, 1024};  // 1 MiB of float32: a cached size class
  Tensor x = ops::full(shape, 1.0);
  synchronize(cpu(0));
  QueueBlocker blocker(cpu(0));
  void* freed = x.kernel_data_ptr();
  {
    Tensor y = ops::add(x, x);   // queued: reads x
    x = Tensor();                // the host drops both; the task still holds them
    y = Tensor();
  }
  std::vector<Tensor> fresh;
  for (int i = 0; i < 4; ++i) {
    fresh.push_back(Tensor::empty(shape));
    EXPECT_NE(fresh.back().kernel_data_ptr(), freed) << "reused while a queued kernel still reads it";
  }
  int64_t live_before = memory_stats().live_bytes.load();
  blocker.release();
  synchronize(cpu(0));
  EXPECT_LT(memory_stats().live_bytes.load(), live_before) << "released once the queue ran the kernel";
}

TEST(Stream, AnErrorOnAQueueSurfacesAtTheNextWaitNamingTheOpAndShapes) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  Tensor logits = test::random_tensor({5, 10});
  Tensor target = Tensor::from_vector({1, 2, 3, 12, 4}, {5}, DType::Int64);
  Tensor loss = ops::cross_entropy(logits, target);  // no error yet: the kernel has not run
  Tensor later = ops::add(logits, logits);          // skipped: the queue failed before it
  try {
    loss.item();
    FAIL() << "expected the kernel's error at item()";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_EQ(message.rfind("asynchronous error on cpu:0: cross_entropy: label 12 at index 3 out of range [0, 10)", 0),
              0u)
        << message;
    EXPECT_NE(message.find("(raised by cross_entropy on (5, 10), (5), launched earlier; TRAINRT_SYNC=1 raises it"),
              std::string::npos)
        << message;
  }
  // Raised once; the queue then runs new work again.
  Tensor z = ops::add(ops::full({3}, 1.0), ops::full({3}, 2.0));
  EXPECT_EQ(z.to_vector(), (std::vector<double>{3, 3, 3}));
}

TEST(Stream, CopiesBetweenLogicalDevicesFollowTheProducerWithoutBlockingTheHost) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  Tensor x = ops::full({64}, 3.0, DType::Float64);
  synchronize(cpu(0));
  QueueBlocker blocker(cpu(0));
  Tensor doubled = ops::add(x, x);         // queued on cpu:0
  Tensor moved = doubled.to(cpu(1));       // queued on cpu:1 after cpu:0's add
  Tensor tripled = ops::add(moved, moved);  // cpu:1
  EXPECT_EQ(moved.device(), cpu(1));
  auto read = std::async(std::launch::async, [&] { return tripled.to_vector(); });
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  blocker.release();
  EXPECT_EQ(read.get(), std::vector<double>(64, 12.0));
}

TEST(Stream, AHostFarAheadIsHeldBackByABoundedQueue) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  QueueBlocker blocker(cpu(0));
  std::atomic<int> launched{0};
  std::thread host([&] {
    for (int i = 0; i < 1000; ++i) {
      launch(cpu(0), "test task", [] {});
      ++launched;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT(launched.load(), 1000) << "launch must block while the queue is full";
  EXPECT_GT(launched.load(), 0);
  blocker.release();
  host.join();
  synchronize(cpu(0));
  EXPECT_EQ(launched.load(), 1000);
}

TEST(Stream, SynchronizeRaisesAPendingErrorOnce) {
  set_async_execution(true);  // whatever TRAINRT_SYNC says: each test runs in its own process
  launch(cpu(0), "test failing task", [] { fail("test: deliberate failure"); });
  EXPECT_ERROR_CONTAINS(synchronize(cpu(0)), "asynchronous error on cpu:0: test: deliberate failure (raised by test failing task");
  EXPECT_NO_THROW(synchronize_all());
}

}  // namespace
}  // namespace trainrt
