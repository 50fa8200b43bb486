// cuda:0's caching allocator and out-of-memory path, through the per-device
// counters (allocator.h device_memory) and the driver's free memory
// (devices.h device_properties): a freed block is cached and reused without a
// new device malloc, empty_all_caches() gives it back, a buffer freed while a
// queued kernel still reads it is not overwritten early (stream-ordered
// reuse), and an impossible allocation throws OutOfMemoryError with the
// report a user needs. Not here: the BlockCache policy (tests/unit/allocator_test.cpp).
#include "gpu/gpu_util.h"
#include "trainrt/allocator.h"

namespace trainrt {
namespace {

using test::cuda;

constexpr int64_t kMiB = int64_t{1} << 20;

int64_t free_memory() {
  synchronize_all();
  return device_properties(cuda()).free_memory;
}

TEST(GpuAllocator, AFreedBlockIsCachedReusedAndReleasedByEmptyCaches) {
  REQUIRE_CUDA();
  const int64_t bytes = 64 * kMiB;  // a power of two: its own size class, no rounding
  empty_all_caches();
  synchronize_all();
  DeviceMemory start = device_memory(cuda());
  EXPECT_EQ(start.cached_bytes, 0) << "empty_all_caches() leaves nothing cached";
  int64_t free_start = free_memory();

  Tensor first = Tensor::empty({bytes / 4}, DType::Float32, cuda());
  int64_t free_first = free_memory();
  EXPECT_LE(free_first, free_start - bytes / 2) << "the first allocation is a real device malloc";
  EXPECT_EQ(device_memory(cuda()).live_bytes, start.live_bytes + bytes);
  first = Tensor();
  synchronize_all();
  DeviceMemory after_free = device_memory(cuda());
  EXPECT_EQ(after_free.live_bytes, start.live_bytes);
  EXPECT_GE(after_free.cached_bytes, bytes) << "the freed block is kept for reuse";
  EXPECT_GE(after_free.peak_bytes, start.live_bytes + bytes);

  Tensor second = Tensor::empty({bytes / 4}, DType::Float32, cuda());
  DeviceMemory after_second = device_memory(cuda());
  EXPECT_EQ(after_second.allocated_total, after_free.allocated_total + bytes);
  EXPECT_EQ(after_second.cached_bytes, after_free.cached_bytes - bytes) << "served from the cache";
  EXPECT_GE(free_memory(), free_first - bytes / 4) << "no second device malloc: free memory did not drop again";
  second = Tensor();
  synchronize_all();

  empty_all_caches();
  synchronize_all();
  EXPECT_EQ(device_memory(cuda()).cached_bytes, 0);
  EXPECT_GE(free_memory(), free_first + bytes / 2) << "the cached block went back to the driver";
}

TEST(GpuAllocator, MemoryFreedUnderAQueuedKernelIsNotReusedBeforeItRuns) {
  REQUIRE_CUDA();
  const int64_t n = 16 * kMiB / 4;  // 16 MiB of float32: the kernels below take a while
  Tensor values = ops::rand({n}, -1, 1, DType::Float32);
  for (int round = 0; round < 3; ++round) {
    Tensor a = values.to(cuda());
    Tensor sum = ops::zeros({n}, DType::Float32, cuda());
    for (int i = 0; i < 20; ++i) sum = ops::add(sum, a);  // 20 queued kernels read a
    a = Tensor();                                        // freed while they may still be queued
    // The same size class, so a freed block comes back at once: written by a
    // kernel (fill_) and by a host-to-device copy, both of which must be
    // ordered after the queued reads of a.
    Tensor b = Tensor::empty({n}, DType::Float32, cuda());
    ops::fill_(b, 1e6);
    Tensor c = ops::full({n}, -1e6, DType::Float32).to(cuda());
    test::expect_matches(sum, ops::mul(values, 20.0), 1e-5, "sum of 20 reads of a freed tensor, round " +
                                                                std::to_string(round));
    EXPECT_EQ(ops::max(b).item(), 1e6);
    EXPECT_EQ(ops::max(c).item(), -1e6);
  }
}

TEST(GpuAllocator, MoreThanTheDeviceHoldsThrowsOutOfMemoryWithTheReport) {
  REQUIRE_CUDA();
  DeviceProperties props = device_properties(cuda());
  ASSERT_GT(props.total_memory, 0);
  // Total rounded up to a GiB, plus one GiB: more than the device can ever give.
  const int64_t gib = int64_t{1} << 30;
  const int64_t bytes = (props.total_memory / gib + 2) * gib;
  Tensor kept = ops::ones({1024}, DType::Float32, cuda());
  try {
    Tensor huge = Tensor::empty({bytes / 4}, DType::Float32, cuda());
    synchronize_all();
    (void)huge;
    ADD_FAILURE() << "allocating " << format_bytes(bytes) << " on a device of " << format_bytes(props.total_memory)
                  << " did not throw";
  } catch (const OutOfMemoryError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
    EXPECT_NE(message.find("cuda:0"), std::string::npos) << message;
    EXPECT_NE(message.find(format_bytes(bytes)), std::string::npos) << "the requested size: " << message;
    EXPECT_NE(message.find("per-device batch"), std::string::npos) << "the hint: " << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected trainrt::OutOfMemoryError, got: " << e.what();
  }
  // The device stays usable, and what was live survived.
  EXPECT_EQ(ops::sum(ops::add(kept, 1.0)).item(), 2048);
}

TEST(GpuAllocator, EveryVisibleDeviceCountsItsOwnMemory) {
  REQUIRE_CUDA_DEVICES(2);
  synchronize_all();
  DeviceMemory zero_before = device_memory(cuda(0)), one_before = device_memory(cuda(1));
  Tensor t = Tensor::empty({kMiB}, DType::Float32, cuda(1));  // 4 MiB on cuda:1 only
  EXPECT_EQ(device_memory(cuda(1)).live_bytes, one_before.live_bytes + 4 * kMiB);
  EXPECT_EQ(device_memory(cuda(0)).live_bytes, zero_before.live_bytes);
  EXPECT_GT(device_properties(cuda(1)).total_memory, 0);
  EXPECT_EQ(device_properties(cuda(1)).device, cuda(1));
}

}  // namespace
}  // namespace trainrt
