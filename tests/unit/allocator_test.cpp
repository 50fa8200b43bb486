// The CPU allocator: 64-byte alignment, exact live-byte accounting, reuse of
// freed large blocks within a size class, the cache limit and release.
#include <gtest/gtest.h>

#include <cstdint>

#include "trainrt/allocator.h"

namespace trainrt {
namespace {

class CpuAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    release_cpu_cache();
    set_cpu_cache_limit(int64_t{1} << 30);
  }
  void TearDown() override {
    release_cpu_cache();
    set_cpu_cache_limit(int64_t{1} << 30);
  }
  Allocator& cpu = allocator_for(DeviceType::CPU);
};

TEST_F(CpuAllocatorTest, BlocksAreAlignedAndLiveBytesExact) {
  int64_t before = memory_stats().live_bytes.load();
  void* small = cpu.allocate(Device::cpu(), 100);
  void* large = cpu.allocate(Device::cpu(), 3 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % 64, 0u);
  EXPECT_EQ(memory_stats().live_bytes.load() - before, 100 + (3 << 20));
  cpu.deallocate(Device::cpu(), small, 100);
  cpu.deallocate(Device::cpu(), large, 3 << 20);
  EXPECT_EQ(memory_stats().live_bytes.load(), before);
}

TEST_F(CpuAllocatorTest, FreedLargeBlockIsReusedWithinItsSizeClass) {
  void* a = cpu.allocate(Device::cpu(), 5'000'000);
  cpu.deallocate(Device::cpu(), a, 5'000'000);
  EXPECT_GE(memory_stats().cached_bytes.load(), 5'000'000);
  void* b = cpu.allocate(Device::cpu(), 5'000'100);  // same class (classes are 1/8 of a power of two apart)
  EXPECT_EQ(a, b);
  EXPECT_EQ(memory_stats().cached_bytes.load(), 0);
  void* c = cpu.allocate(Device::cpu(), 9'000'000);  // another class: a fresh block
  EXPECT_NE(c, b);
  cpu.deallocate(Device::cpu(), b, 5'000'100);
  cpu.deallocate(Device::cpu(), c, 9'000'000);
}

TEST_F(CpuAllocatorTest, CacheStaysUnderItsLimitAndReleaseEmptiesIt) {
  set_cpu_cache_limit(6 << 20);
  void* a = cpu.allocate(Device::cpu(), 4 << 20);
  void* b = cpu.allocate(Device::cpu(), 4 << 20);
  cpu.deallocate(Device::cpu(), a, 4 << 20);
  cpu.deallocate(Device::cpu(), b, 4 << 20);  // would exceed 6 MiB: returned to the OS instead
  EXPECT_EQ(memory_stats().cached_bytes.load(), 4 << 20);
  release_cpu_cache();
  EXPECT_EQ(memory_stats().cached_bytes.load(), 0);
}

}  // namespace
}  // namespace trainrt
