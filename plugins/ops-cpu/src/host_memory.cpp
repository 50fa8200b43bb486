// See host_memory.h.
#include "host_memory.h"

#include <cstdlib>

namespace trt_cpu {
namespace {
// Copied: the trt_host_api the loader passes lives only during init (its
// alloc/free do not use it).
void* (*g_alloc)(void*, int32_t, int32_t, size_t) = nullptr;
void (*g_free)(void*, int32_t, int32_t, void*, size_t) = nullptr;
void* g_host_handle = nullptr;
}  // namespace

void set_host_memory(const trt_host_api* host) {
  g_alloc = host ? host->alloc : nullptr;
  g_free = host ? host->free : nullptr;
  g_host_handle = host ? host->host : nullptr;
}

void* host_alloc(size_t bytes) {
  return g_alloc && g_free ? g_alloc(g_host_handle, TRT_DEVICE_CPU, 0, bytes) : std::malloc(bytes);
}

void host_free(void* ptr, size_t bytes) {
  if (g_alloc && g_free) g_free(g_host_handle, TRT_DEVICE_CPU, 0, ptr, bytes);
  else std::free(ptr);
}

}  // namespace trt_cpu
