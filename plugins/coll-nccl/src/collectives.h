// The collectives as calls for Comm::enqueue, each one NCCL collective
// (ncclAllReduce, ncclBroadcast, ncclAllGather, ncclReduceScatter) on device
// memory. Views arrive checked by the host: contiguous, on the communicator's
// device, same dtype and shape on every rank. avg is NCCL's own ncclAvg.
// barrier is a 1-element all-reduce on the communicator's scratch float.
#pragma once
#include "comm.h"

namespace trt_nccl {

// Throw Failure(TRT_ERR_INVALID_ARGUMENT) for a dtype or op NCCL cannot serve here.
Comm::Call all_reduce_call(const trt_tensor_view& tensor, int32_t op);
Comm::Call broadcast_call(const trt_tensor_view& tensor, int32_t root);
Comm::Call all_gather_call(const trt_tensor_view& input, const trt_tensor_view& output);
Comm::Call reduce_scatter_call(const trt_tensor_view& input, const trt_tensor_view& output, int32_t op);
Comm::Call barrier_call(float* scratch);

}  // namespace trt_nccl
