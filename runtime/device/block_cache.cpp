// Size classes and free lists of BlockCache (block_cache.h).
#include "device/block_cache.h"

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
  auto it = free_.find(block);
  if (it == free_.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  cached_ -= static_cast<int64_t>(block);
  return p;
}

bool BlockCache::keep(void* ptr, size_t block) {
  if (!cacheable(block) || cached_ + static_cast<int64_t>(block) > limit_) return false;
  free_[block].push_back(ptr);
  cached_ += static_cast<int64_t>(block);
  return true;
}

void BlockCache::drain(const std::function<void(void*, size_t)>& release) {
  for (auto& [block, ptrs] : free_) {
    for (void* p : ptrs) release(p, block);
    ptrs.clear();
  }
  cached_ = 0;
}

}  // namespace trainrt
