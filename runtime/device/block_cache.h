// BlockCache: freed blocks kept for reuse, by size class, for one device. The
// CPU allocator and every device plugin's allocator use it, so the caching
// policy the GPU relies on is the one the CPU tests exercise.
// A block is rounded to a size class (8 classes per power of two, at most 12.5%
// slack; blocks below `min_block` round to a multiple of `granularity`), and
// a free list per class holds blocks up to a byte limit. Not thread-safe by
// itself: the owning allocator locks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace trainrt {

class BlockCache {
 public:
  // Blocks smaller than min_cached are not cached (the CPU leaves them to malloc).
  BlockCache(size_t granularity, size_t min_cached, int64_t limit_bytes)
      : granularity_(granularity), min_cached_(min_cached), limit_(limit_bytes) {}

  size_t block_size(size_t bytes) const;  // the size class a request is served from
  bool cacheable(size_t block) const { return block >= min_cached_; }

  void* take(size_t block);             // a cached block of exactly this class, or nullptr
  bool keep(void* ptr, size_t block);   // false: over the limit, the caller frees it
  // Hands every cached block to release(ptr, block) and empties the cache.
  void drain(const std::function<void(void*, size_t)>& release);

  int64_t cached_bytes() const { return cached_; }
  void set_limit(int64_t bytes) { limit_ = bytes; }

 private:
  size_t granularity_, min_cached_;
  int64_t limit_;
  int64_t cached_ = 0;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks
};

}  // namespace trainrt
