// BlockCache: freed blocks kept for reuse, by size class, for one device. The
// CPU allocator and every device plugin's allocator use it, so the caching
// policy the GPU relies on is the one the CPU tests exercise.
// A block is rounded to a size class (8 classes per power of two, at most 12.5%
// slack; blocks below `min_block` round to a multiple of `granularity`), and
// a free list per class holds blocks up to a byte limit. A class that stops
// being used gives its blocks back when another class misses
// (release_unused), so the cache follows the sizes in use. Not thread-safe by
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
  // After a miss (take gave nullptr and the caller will allocate `bytes`
  // afresh): hands blocks of the least recently used other classes to
  // release(ptr, block) until `bytes` are given back, so that moving to other
  // sizes (evaluation's batch after training's) reuses the footprint instead
  // of adding to it. A steady loop takes what it kept and never misses, so its
  // classes stay cached. Returns the bytes released.
  int64_t release_unused(int64_t bytes, const std::function<void(void*, size_t)>& release);
  // Hands every cached block to release(ptr, block) and empties the cache.
  void drain(const std::function<void(void*, size_t)>& release);

  int64_t cached_bytes() const { return cached_; }
  void set_limit(int64_t bytes) { limit_ = bytes; }

 private:
  size_t granularity_, min_cached_;
  int64_t limit_;
  struct SizeClass {
    std::vector<void*> blocks;  // free blocks of this class
    uint64_t last_use = 0;      // uses_ when it was last taken from, missed or kept into
  };
  int64_t cached_ = 0;
  uint64_t uses_ = 0;  // takes and keeps so far: the clock of last_use
  std::unordered_map<size_t, SizeClass> free_;  // size class -> its free blocks
};

}  // namespace trainrt
