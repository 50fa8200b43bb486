// The CPU allocator: 64-byte aligned blocks (cache line, AVX-512 friendly), and
// a cache of freed large blocks. A training step frees and reallocates the same
// megabyte-sized buffers every step; returning them to the OS (glibc mmaps large
// blocks) made every step page-fault and zero ~40 MB afresh, about 10% of a CNN
// step. Blocks of 64 KiB and more are rounded to one of eight size classes per
// power of two (at most 12.5% slack) and kept on a free list per class, up to a
// cap (TRAINRT_CPU_CACHE_MB, default 1024); release_cpu_cache() returns them.
// A miss first frees as many bytes of the least recently used other classes
// (BlockCache::release_unused), so sizes that stop being used (training's
// after evaluation's) do not stay cached beside the new ones.
// The cache itself is BlockCache (../block_cache.h), shared with device plugins.
// Deliberately not here: a general-purpose malloc; small blocks go to glibc.
#include <cstdlib>
#include <malloc.h>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "device/block_cache.h"
#include "trainrt/allocator.h"
#include "trainrt/error.h"

namespace trainrt {
namespace {

constexpr size_t kCachedMin = 64 * 1024;

int64_t cache_limit_from_env() {
  const char* env = std::getenv("TRAINRT_CPU_CACHE_MB");
  if (!env || !*env) return int64_t{1024} << 20;
  char* end = nullptr;
  long long mb = std::strtoll(env, &end, 10);
  TRT_CHECK(end && *end == '\0' && mb >= 0, "TRAINRT_CPU_CACHE_MB must be a whole number of MiB, got '", env, "'");
  return static_cast<int64_t>(mb) << 20;
}

class CpuAllocator final : public Allocator {
 public:
  void* allocate(Device device, size_t bytes) override {
    size_t block = cache_.block_size(bytes);
    void* p = take_cached(block);
    if (!p) {
      give_back_unused(block);
      p = std::aligned_alloc(64, block);
    }
    if (!p) {  // the cache may be holding what we need
      empty_cache();
      p = std::aligned_alloc(64, block);
    }
    TRT_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    note_allocation(device, static_cast<int64_t>(bytes));
    return p;
  }

  void deallocate(Device device, void* ptr, size_t bytes) override {
    note_deallocation(device, static_cast<int64_t>(bytes));
    size_t block = cache_.block_size(bytes);
    {
      std::lock_guard lock(mutex_);
      if (cache_.keep(ptr, block)) {
        note_cached(Device::cpu(), static_cast<int64_t>(block));
        return;
      }
    }
    std::free(ptr);
  }

  void copy(void* dst, Device, const void* src, Device, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }

  void empty_cache() override {
    std::lock_guard lock(mutex_);
    note_cached(Device::cpu(), -cache_.cached_bytes());
    cache_.drain([](void* p, size_t) { std::free(p); });
  }

  void set_limit(int64_t bytes) {
    std::lock_guard lock(mutex_);
    cache_.set_limit(bytes);
  }

 private:
  void* take_cached(size_t block) {
    std::lock_guard lock(mutex_);
    void* p = cache_.take(block);
    if (p) note_cached(Device::cpu(), -static_cast<int64_t>(block));
    return p;
  }

  // A miss allocates `block` afresh: first free as much of the cache's least
  // recently used other classes (evaluation's large batches after training,
  // or the other way round), so the footprint moves to the new sizes instead
  // of growing by them.
  void give_back_unused(size_t block) {
    if (!cache_.cacheable(block)) return;
    std::lock_guard lock(mutex_);
    int64_t released = cache_.release_unused(static_cast<int64_t>(block), [](void* p, size_t) { std::free(p); });
    if (released) note_cached(Device::cpu(), -released);
  }

  std::mutex mutex_;
  BlockCache cache_{64, kCachedMin, cache_limit_from_env()};
};

// glibc raises its mmap threshold whenever a large block is freed (up to 32
// MiB); after that, large blocks come from heap arenas that rarely give memory
// back. An eager loop running ahead of its kernels (no loss:item() per step)
// grew to ~970 MB resident for ~180 MB of touched tensors, and ~180 MB with
// the threshold fixed. Fixed at 256 KiB, a freed large block leaves the process
// (the block cache above keeps the ones a loop reuses). MALLOC_MMAP_THRESHOLD_
// set by the user wins.
void fix_mmap_threshold() {
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

CpuAllocator& instance() {
  static CpuAllocator* allocator = (fix_mmap_threshold(), new CpuAllocator);  // never destroyed: tensors may outlive statics
  return *allocator;
}

}  // namespace

Allocator* cpu_allocator() { return &instance(); }
void release_cpu_cache() { instance().empty_cache(); }
void set_cpu_cache_limit(int64_t bytes) { instance().set_limit(bytes); }

}  // namespace trainrt
