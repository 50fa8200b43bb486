// The collectives as bodies for Comm::enqueue, each one call into Gloo's own
// algorithm (allreduce, broadcast, allgather, barrier). Views arrive checked by
// the host: contiguous, same dtype and shape on every rank.
// reduce_scatter is Gloo's allreduce into a scratch buffer, keeping this rank's
// chunk: Debian's Gloo has no reduce-scatter with per-operation timeouts.
#pragma once
#include "comm.h"

namespace trt_gloo {

// Throw std::invalid_argument for a dtype or op Gloo cannot serve here.
Comm::Body all_reduce_body(const trt_tensor_view& tensor, int32_t op, int world_size);
Comm::Body broadcast_body(const trt_tensor_view& tensor, int32_t root);
Comm::Body all_gather_body(const trt_tensor_view& input, const trt_tensor_view& output);
Comm::Body reduce_scatter_body(const trt_tensor_view& input, const trt_tensor_view& output, int32_t op, int rank,
                               int world_size);
Comm::Body barrier_body();

}  // namespace trt_gloo
