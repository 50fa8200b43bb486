// BlockCache::release_unused: a class that stopped being used gives its blocks
// back when another class misses (evaluation's batch after training's), while
// the classes of the steady loop keep theirs. Not here: size classes and the
// limit (devices_test.cpp).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "device/block_cache.h"

namespace trainrt {
namespace {

TEST(BlockCacheRelease, AMissTakesItsBytesFromTheLeastRecentlyUsedIdleClass) {
  BlockCache cache(64, 64 * 1024, INT64_MAX);
  const size_t small = cache.block_size(1 << 20), large = cache.block_size(100 << 20);
  std::vector<char> blocks(4);
  // A "training" class with four cached blocks, then enough other traffic that it is idle.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(cache.keep(&blocks[i], small));
  int other = 0;
  const size_t mid = cache.block_size(8 << 20);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cache.keep(&other, mid));
    ASSERT_EQ(cache.take(mid), &other);
  }
  std::vector<void*> released;
  auto release = [&](void* p, size_t block) {
    EXPECT_EQ(block, small);
    released.push_back(p);
  };
  EXPECT_EQ(cache.take(large), nullptr);
  EXPECT_EQ(cache.release_unused(static_cast<int64_t>(2 * small), release), static_cast<int64_t>(2 * small));
  EXPECT_EQ(released.size(), 2u) << "only as many bytes as the miss needs";
  EXPECT_EQ(cache.cached_bytes(), static_cast<int64_t>(2 * small));
  EXPECT_EQ(cache.release_unused(static_cast<int64_t>(large), release), static_cast<int64_t>(2 * small));
  EXPECT_EQ(cache.cached_bytes(), 0);
}

// The CPU allocator's policy (cpu_allocator.cpp): take, on a miss release
// unused bytes and allocate afresh, keep on free.
struct PolicyLoop {
  BlockCache cache{64, 64 * 1024, INT64_MAX};
  std::vector<std::unique_ptr<char[]>> owned;  // stands for malloc
  int fresh = 0, released = 0;
  void* allocate(size_t bytes) {
    size_t block = cache.block_size(bytes);
    if (void* p = cache.take(block)) return p;
    cache.release_unused(static_cast<int64_t>(block), [&](void*, size_t) { ++released; });
    ++fresh;
    owned.push_back(std::make_unique<char[]>(1));
    return owned.back().get();
  }
  void deallocate(void* p, size_t bytes) { ASSERT_TRUE(cache.keep(p, cache.block_size(bytes))); }
};

TEST(BlockCacheRelease, ASteadyLoopNeverMissesSoItsClassesStayCached) {
  PolicyLoop loop;
  const std::vector<size_t> step = {size_t{6} << 20, size_t{6} << 20, size_t{3} << 20, size_t{1} << 20, size_t{400} << 10};
  for (int i = 0; i < 100; ++i) {
    std::vector<void*> live;
    for (size_t bytes : step) live.push_back(loop.allocate(bytes));
    for (size_t k = 0; k < step.size(); ++k) loop.deallocate(live[k], step[k]);
  }
  EXPECT_EQ(loop.fresh, static_cast<int>(step.size())) << "only the first step allocates afresh";
  EXPECT_EQ(loop.released, 0);
}

TEST(BlockCacheRelease, SwitchingSizesMovesTheFootprintInsteadOfAddingToIt) {
  PolicyLoop loop;
  auto phase = [&](size_t bytes, int n) {
    std::vector<void*> live;
    for (int i = 0; i < n; ++i) live.push_back(loop.allocate(bytes));
    for (void* p : live) loop.deallocate(p, bytes);
  };
  phase(size_t{6} << 20, 8);    // training: 48 MiB cached
  phase(size_t{100} << 20, 2);  // evaluation: its misses give training's blocks back first
  EXPECT_EQ(loop.cache.cached_bytes(), static_cast<int64_t>(loop.cache.block_size(size_t{100} << 20) * 2));
  EXPECT_EQ(loop.released, 8);
}

}  // namespace
}  // namespace trainrt
