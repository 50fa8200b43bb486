// Counter-based random fills: element i of a draw uses counter (offset + i), so
// results depend only on (seed, offset), as on the CUDA side.
#include "kernel_util.h"
#include "kernels.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {
namespace {

// Walks a possibly strided output in logical (row-major) order with a running index.
template <typename T, typename F> void fill_indexed(const trt_tensor_view& t, F f) {
  T* p = data<T>(t);
  int64_t i = 0;
  strided_rows<1>(t, {&t}, [&](auto off, int64_t n, auto st) {
    for (int64_t j = 0; j < n; ++j, ++i) p[off[0] + j * st[0]] = static_cast<T>(f(i));
  });
}

// uniform: outputs [t], int_attrs [seed, offset], float_attrs [low, high]
trt_status uniform_kernel(const trt_kernel_args* a) {
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  double low = a->float_attrs[0], high = a->float_attrs[1];
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, fill_indexed<scalar_t>(a->outputs[0], [&](int64_t i) {
    return low + (high - low) * trainrt::math::uniform01(seed, offset + static_cast<uint64_t>(i));
  }));
  return TRT_OK;
}

// normal: outputs [t], int_attrs [seed, offset (in pairs)], float_attrs [mean, std]
trt_status normal_kernel(const trt_kernel_args* a) {
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  double mean = a->float_attrs[0], std = a->float_attrs[1];
  TRT_CPU_DISPATCH_FLOAT(a, a->outputs[0].dtype, fill_indexed<scalar_t>(a->outputs[0], [&](int64_t i) {
    return mean + std * trainrt::math::normal01(seed, offset + static_cast<uint64_t>(i));
  }));
  return TRT_OK;
}

}  // namespace

bool register_random(const trt_host_api* host) {
  return add_kernel(host, "uniform", uniform_kernel) && add_kernel(host, "normal", normal_kernel);
}

}  // namespace trt_cpu
