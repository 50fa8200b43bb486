// The CPU allocator: 64-byte aligned blocks (cache line, AVX-512 friendly).
#include <cstdlib>
#include <cstring>
#include <new>

#include "trainrt/allocator.h"
#include "trainrt/error.h"

namespace trainrt {
namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    TRT_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
    note_allocation(static_cast<int64_t>(bytes));
    return p;
  }
  void deallocate(void* ptr, size_t bytes) override {
    std::free(ptr);
    note_deallocation(static_cast<int64_t>(bytes));
  }
  void copy(void* dst, Device, const void* src, Device, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
};

}  // namespace

Allocator* cpu_allocator() {
  static CpuAllocator allocator;
  return &allocator;
}

}  // namespace trainrt
