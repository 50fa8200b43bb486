// NCCL calls behind each collective of the trt_collective_backend table.
#include "collectives.h"

#include <string>

namespace trt_nccl {
namespace {

size_t numel(const trt_tensor_view& v) {
  size_t n = 1;
  for (int32_t d = 0; d < v.ndim; ++d) n *= static_cast<size_t>(v.sizes[d]);
  return n;
}

[[noreturn]] void invalid(const std::string& message) { throw Failure(TRT_ERR_INVALID_ARGUMENT, message); }

ncclDataType_t nccl_dtype(int32_t dtype) {
  switch (dtype) {
    case TRT_FLOAT32: return ncclFloat32;
    case TRT_FLOAT64: return ncclFloat64;
    case TRT_INT64: return ncclInt64;
    default: invalid("nccl: dtype " + std::to_string(dtype) + " is not float32, float64 or int64");
  }
}

ncclRedOp_t nccl_op(int32_t op, int32_t dtype) {
  switch (op) {
    case TRT_REDUCE_SUM: return ncclSum;
    case TRT_REDUCE_AVG:
      if (dtype == TRT_INT64) invalid("nccl: avg needs a floating-point tensor, got int64 (use sum)");
      return ncclAvg;
    case TRT_REDUCE_MAX: return ncclMax;
    case TRT_REDUCE_MIN: return ncclMin;
    default: invalid("nccl: unknown reduce op " + std::to_string(op));
  }
}

// No elements: nothing to send, but the work's event still orders after the stream.
Comm::Call nothing() {
  return [](ncclComm_t, cudaStream_t) { return ncclSuccess; };
}

}  // namespace

Comm::Call all_reduce_call(const trt_tensor_view& tensor, int32_t op) {
  ncclDataType_t type = nccl_dtype(tensor.dtype);
  ncclRedOp_t red = nccl_op(op, tensor.dtype);
  void* data = tensor.data;
  size_t n = numel(tensor);
  if (n == 0) return nothing();
  return [=](ncclComm_t comm, cudaStream_t stream) { return ncclAllReduce(data, data, n, type, red, comm, stream); };
}

Comm::Call broadcast_call(const trt_tensor_view& tensor, int32_t root) {
  ncclDataType_t type = nccl_dtype(tensor.dtype);
  void* data = tensor.data;
  size_t n = numel(tensor);
  if (n == 0) return nothing();
  return [=](ncclComm_t comm, cudaStream_t stream) { return ncclBroadcast(data, data, n, type, root, comm, stream); };
}

Comm::Call all_gather_call(const trt_tensor_view& input, const trt_tensor_view& output) {
  ncclDataType_t type = nccl_dtype(input.dtype);
  const void* in = input.data;
  void* out = output.data;
  size_t n = numel(input);  // per rank
  if (n == 0) return nothing();
  return [=](ncclComm_t comm, cudaStream_t stream) { return ncclAllGather(in, out, n, type, comm, stream); };
}

Comm::Call reduce_scatter_call(const trt_tensor_view& input, const trt_tensor_view& output, int32_t op) {
  ncclDataType_t type = nccl_dtype(input.dtype);
  ncclRedOp_t red = nccl_op(op, input.dtype);
  const void* in = input.data;
  void* out = output.data;
  size_t n = numel(output);  // this rank's chunk
  if (n == 0) return nothing();
  return [=](ncclComm_t comm, cudaStream_t stream) {
    return ncclReduceScatter(in, out, n, type, red, comm, stream);
  };
}

Comm::Call barrier_call(float* scratch) {
  return [=](ncclComm_t comm, cudaStream_t stream) {
    return ncclAllReduce(scratch, scratch, 1, ncclFloat32, ncclSum, comm, stream);
  };
}

}  // namespace trt_nccl
