// Gloo calls behind each collective of the trt_collective_backend table.
#include "collectives.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace trt_gloo {
namespace {

size_t numel(const trt_tensor_view& v) {
  size_t n = 1;
  for (int32_t d = 0; d < v.ndim; ++d) n *= static_cast<size_t>(v.sizes[d]);
  return n;
}

size_t element_size(int32_t dtype) {
  switch (dtype) {
    case TRT_FLOAT32: return 4;
    case TRT_FLOAT64: case TRT_INT64: return 8;
    default: throw std::invalid_argument("gloo: dtype " + std::to_string(dtype) + " is not float32, float64 or int64");
  }
}

// Gloo's element-wise reductions, the (c, a, b, n) overloads.
using ReduceFn = void (*)(void*, const void*, const void*, size_t);

template <typename T> gloo::AllreduceOptions::Func reduce_function(int32_t op) {
  switch (op) {
    case TRT_REDUCE_SUM: case TRT_REDUCE_AVG: return static_cast<ReduceFn>(&gloo::sum<T>);
    case TRT_REDUCE_MAX: return static_cast<ReduceFn>(&gloo::max<T>);
    case TRT_REDUCE_MIN: return static_cast<ReduceFn>(&gloo::min<T>);
    default: throw std::invalid_argument("gloo: unknown reduce op " + std::to_string(op));
  }
}

template <typename T> void scale(void* data, size_t n, double factor) {
  T* p = static_cast<T*>(data);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] * factor);
}

// Gloo's ring allreduce, in place on `data` of n elements of dtype; avg divides after the sum.
template <typename T>
void allreduce_typed(const ContextPtr& context, uint32_t tag, void* data, size_t n, int32_t op) {
  gloo::AllreduceOptions opts(context);
  opts.setOutput(static_cast<T*>(data), n);
  opts.setReduceFunction(reduce_function<T>(op));
  opts.setTag(tag);
  opts.setTimeout(context->getTimeout());
  gloo::allreduce(opts);
  if (op == TRT_REDUCE_AVG) scale<T>(data, n, 1.0 / context->size);
}

void allreduce_any(const ContextPtr& context, uint32_t tag, int32_t dtype, void* data, size_t n, int32_t op) {
  if (n == 0) return;
  switch (dtype) {
    case TRT_FLOAT32: return allreduce_typed<float>(context, tag, data, n, op);
    case TRT_FLOAT64: return allreduce_typed<double>(context, tag, data, n, op);
    case TRT_INT64: return allreduce_typed<int64_t>(context, tag, data, n, op);
  }
}

void check_op(int32_t dtype, int32_t op) {
  element_size(dtype);
  if (op < TRT_REDUCE_SUM || op > TRT_REDUCE_MIN) throw std::invalid_argument("gloo: unknown reduce op " + std::to_string(op));
  if (op == TRT_REDUCE_AVG && dtype == TRT_INT64)
    throw std::invalid_argument("gloo: avg needs a floating-point tensor, got int64 (use sum)");
}

}  // namespace

Comm::Body all_reduce_body(const trt_tensor_view& tensor, int32_t op, int) {
  check_op(tensor.dtype, op);
  void* data = tensor.data;
  size_t n = numel(tensor);
  int32_t dtype = tensor.dtype;
  return [=](const ContextPtr& context, uint32_t tag) { allreduce_any(context, tag, dtype, data, n, op); };
}

Comm::Body broadcast_body(const trt_tensor_view& tensor, int32_t root) {
  size_t bytes = numel(tensor) * element_size(tensor.dtype);
  void* data = tensor.data;
  return [=](const ContextPtr& context, uint32_t tag) {
    if (bytes == 0) return;
    gloo::BroadcastOptions opts(context);
    opts.setOutput(static_cast<uint8_t*>(data), bytes);
    opts.setRoot(root);
    opts.setTag(tag);
    opts.setTimeout(context->getTimeout());
    gloo::broadcast(opts);
  };
}

Comm::Body all_gather_body(const trt_tensor_view& input, const trt_tensor_view& output) {
  size_t bytes = numel(input) * element_size(input.dtype);
  void* in = input.data;
  void* out = output.data;
  return [=](const ContextPtr& context, uint32_t tag) {
    if (bytes == 0) return;
    gloo::AllgatherOptions opts(context);
    opts.setInput(static_cast<uint8_t*>(in), bytes);
    opts.setOutput(static_cast<uint8_t*>(out), bytes * static_cast<size_t>(context->size));
    opts.setTag(tag);
    opts.setTimeout(context->getTimeout());
    gloo::allgather(opts);
  };
}

Comm::Body reduce_scatter_body(const trt_tensor_view& input, const trt_tensor_view& output, int32_t op, int rank,
                               int world_size) {
  check_op(input.dtype, op);
  size_t n = numel(input), esize = element_size(input.dtype);
  size_t chunk = n / static_cast<size_t>(world_size);
  const void* in = input.data;
  void* out = output.data;
  int32_t dtype = input.dtype;
  return [=](const ContextPtr& context, uint32_t tag) {
    std::vector<uint8_t> scratch(n * esize);
    if (n) std::memcpy(scratch.data(), in, n * esize);
    allreduce_any(context, tag, dtype, scratch.data(), n, op);
    if (chunk) std::memcpy(out, scratch.data() + static_cast<size_t>(rank) * chunk * esize, chunk * esize);
  };
}

Comm::Body barrier_body() {
  return [](const ContextPtr& context, uint32_t tag) {
    gloo::BarrierOptions opts(context);
    opts.setTag(tag);
    opts.setTimeout(context->getTimeout());
    gloo::barrier(opts);
  };
}

}  // namespace trt_gloo
