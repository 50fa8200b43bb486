// The CPU allocator: 64-byte aligned blocks (cache line, AVX-512 friendly), and
// a cache of freed large blocks. A training step frees and reallocates the same
// megabyte-sized buffers every step; returning them to the OS (glibc mmaps large
// blocks) made every step page-fault and zero ~40 MB afresh, about 10% of a CNN
// step. Blocks of 64 KiB and more are rounded to one of eight size classes per
// power of two (at most 12.5% slack) and kept on a free list per class, up to a
// cap (TRAINRT_CPU_CACHE_MB, default 1024); release_cpu_cache() returns them.
// Deliberately not here: a general-purpose malloc; small blocks go to glibc.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "trainrt/allocator.h"
#include "trainrt/error.h"

namespace trainrt {
namespace {

constexpr size_t kCachedMin = 64 * 1024;

// Rounds a large request up to its size class: 8 classes per power of two.
size_t size_class(size_t bytes) {
  if (bytes < kCachedMin) return (bytes + 63) / 64 * 64;
  size_t top = size_t{1} << (63 - __builtin_clzll(bytes));  // largest power of two <= bytes
  size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

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
  void* allocate(size_t bytes) override {
    size_t block = size_class(bytes == 0 ? 1 : bytes);
    void* p = take_cached(block);
    if (!p) p = std::aligned_alloc(64, block);
    if (!p) {  // the cache may be holding what we need
      release();
      p = std::aligned_alloc(64, block);
    }
    TRT_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    note_allocation(static_cast<int64_t>(bytes));
    return p;
  }

  void deallocate(void* ptr, size_t bytes) override {
    note_deallocation(static_cast<int64_t>(bytes));
    size_t block = size_class(bytes == 0 ? 1 : bytes);
    if (block < kCachedMin || !keep(ptr, block)) std::free(ptr);
  }

  void copy(void* dst, Device, const void* src, Device, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }

  void release() {
    std::lock_guard lock(mutex_);
    for (auto& [block, ptrs] : free_) {
      for (void* p : ptrs) std::free(p);
      ptrs.clear();
    }
    cached_bytes_ = 0;
    memory_stats().cached_bytes.store(0);
  }

  void set_limit(int64_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
  }

 private:
  void* take_cached(size_t block) {
    if (block < kCachedMin) return nullptr;
    std::lock_guard lock(mutex_);
    auto it = free_.find(block);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_bytes_ -= static_cast<int64_t>(block);
    memory_stats().cached_bytes.store(cached_bytes_);
    return p;
  }

  bool keep(void* ptr, size_t block) {
    std::lock_guard lock(mutex_);
    if (cached_bytes_ + static_cast<int64_t>(block) > limit_) return false;
    free_[block].push_back(ptr);
    cached_bytes_ += static_cast<int64_t>(block);
    memory_stats().cached_bytes.store(cached_bytes_);
    return true;
  }

  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks
  int64_t cached_bytes_ = 0;
  int64_t limit_ = cache_limit_from_env();
};

CpuAllocator& instance() {
  static CpuAllocator* allocator = new CpuAllocator;  // never destroyed: tensors may outlive statics
  return *allocator;
}

}  // namespace

Allocator* cpu_allocator() { return &instance(); }
void release_cpu_cache() { instance().release(); }
void set_cpu_cache_limit(int64_t bytes) { instance().set_limit(bytes); }

}  // namespace trainrt
