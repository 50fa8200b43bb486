// Size classes and free lists of BlockCache (block_cache.h).
#include "device/block_cache.h"

#include <algorithm>

namespace trainrt {

size_t BlockCache::block_size(size_t bytes) const {
  if (bytes == 0) bytes = 1;
  if (bytes < min_cached_ || bytes < 8 * granularity_) return (bytes + granularity_ - 1) / granularity_ * granularity_;
  size_t top = size_t{1} << (63 - __builtin_clzll(bytes));  // largest power of two <= bytes
  size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

void* BlockCache::take(size_t block) {
  if (!cacheable(block)) return nullptr;
  SizeClass& c = free_[block];
  c.last_use = ++uses_;  // a miss counts too: the class is in use
  if (c.blocks.empty()) return nullptr;
  void* p = c.blocks.back();
  c.blocks.pop_back();
  cached_ -= static_cast<int64_t>(block);
  return p;
}

bool BlockCache::keep(void* ptr, size_t block) {
  if (!cacheable(block) || cached_ + static_cast<int64_t>(block) > limit_) return false;
  SizeClass& c = free_[block];
  c.blocks.push_back(ptr);
  c.last_use = ++uses_;
  cached_ += static_cast<int64_t>(block);
  return true;
}

int64_t BlockCache::release_unused(int64_t bytes, const std::function<void(void*, size_t)>& release) {
  if (bytes <= 0 || cached_ == 0) return 0;
  std::vector<std::pair<uint64_t, size_t>> idle;  // (last use, class), oldest first
  for (const auto& [block, c] : free_)
    if (!c.blocks.empty()) idle.emplace_back(c.last_use, block);
  std::sort(idle.begin(), idle.end());
  int64_t released = 0;
  for (const auto& [last_use, block] : idle) {
    std::vector<void*>& blocks = free_[block].blocks;
    while (!blocks.empty() && released < bytes) {
      release(blocks.back(), block);
      blocks.pop_back();
      released += static_cast<int64_t>(block);
    }
    if (released >= bytes) break;
  }
  cached_ -= released;
  return released;
}

void BlockCache::drain(const std::function<void(void*, size_t)>& release) {
  for (auto& [block, c] : free_) {
    for (void* p : c.blocks) release(p, block);
    c.blocks.clear();
  }
  cached_ = 0;
}

}  // namespace trainrt
