// coll-nccl: the trt_collective_backend table over NCCL, registered as "nccl"
// for CUDA tensors. Every entry catches C++ exceptions and turns them into a
// status and a one-line message: nothing crosses the C boundary. Loading the
// plugin touches no CUDA: a machine without a driver fails at create().
#include <memory>
#include <stdexcept>

#include "collectives.h"
#include "comm.h"
#include "work.h"

namespace trt_nccl {
namespace {

using CommHandle = std::shared_ptr<Comm>;  // works hold the communicator too
using WorkHandle = std::shared_ptr<Work>;

Comm& comm_of(void* comm) { return **static_cast<CommHandle*>(comm); }

trt_status create(const trt_comm_options* options, void** comm, char* error, size_t capacity) {
  if (!options || options->struct_size < sizeof(trt_comm_options) || !options->store || !comm) {
    write_error(error, capacity, "nccl: create needs a complete trt_comm_options with a store");
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (options->device_type != TRT_DEVICE_CUDA) {
    write_error(error, capacity, "nccl: moves CUDA tensors only; use the gloo backend for CPU tensors");
    return TRT_ERR_UNSUPPORTED;
  }
  if (options->world_size < 1 || options->rank < 0 || options->rank >= options->world_size ||
      options->timeout_ms <= 0) {
    write_error(error, capacity, "nccl: rank " + std::to_string(options->rank) + " of " +
                                     std::to_string(options->world_size) + " with timeout " +
                                     std::to_string(options->timeout_ms) + " ms is not a valid place in a group");
    return TRT_ERR_INVALID_ARGUMENT;
  }
  try {
    *comm = new CommHandle(std::make_shared<Comm>(*options));
    return TRT_OK;
  } catch (const Failure& f) {
    write_error(error, capacity, f.what());
    return f.status;
  } catch (const std::exception& e) {
    write_error(error, capacity, std::string("nccl: ") + e.what());
    return TRT_ERR_INTERNAL;
  }
}

// Enqueues the call `make()` builds; a Failure it throws keeps its status.
template <typename Make>
trt_status enqueue(void* comm, const char* op, void* stream, void** work, char* error, size_t capacity, Make make) {
  try {
    Comm& c = comm_of(comm);
    Comm::Call call = make(c);
    *work = new WorkHandle(c.enqueue(op, stream, call));
    return TRT_OK;
  } catch (const Failure& f) {
    write_error(error, capacity, f.what());
    return f.status;
  } catch (const std::exception& e) {
    write_error(error, capacity, std::string("nccl: ") + e.what());
    return TRT_ERR_INTERNAL;
  }
}

trt_status all_reduce(void* comm, const trt_tensor_view* tensor, int32_t op, void* stream, void** work, char* error,
                      size_t capacity) {
  return enqueue(comm, "ncclAllReduce", stream, work, error, capacity,
                 [&](Comm&) { return all_reduce_call(*tensor, op); });
}

trt_status broadcast(void* comm, const trt_tensor_view* tensor, int32_t root, void* stream, void** work, char* error,
                     size_t capacity) {
  return enqueue(comm, "ncclBroadcast", stream, work, error, capacity,
                 [&](Comm&) { return broadcast_call(*tensor, root); });
}

trt_status all_gather(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, void* stream,
                      void** work, char* error, size_t capacity) {
  return enqueue(comm, "ncclAllGather", stream, work, error, capacity,
                 [&](Comm&) { return all_gather_call(*input, *output); });
}

trt_status reduce_scatter(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, int32_t op,
                          void* stream, void** work, char* error, size_t capacity) {
  return enqueue(comm, "ncclReduceScatter", stream, work, error, capacity,
                 [&](Comm&) { return reduce_scatter_call(*input, *output, op); });
}

trt_status barrier(void* comm, void** work, char* error, size_t capacity) {
  return enqueue(comm, "barrier (ncclAllReduce of 1 float)", nullptr, work, error, capacity,
                 [](Comm& c) { return barrier_call(c.scratch()); });
}

trt_status work_wait(void* work, int64_t timeout_ms, char* error, size_t capacity) {
  std::string message;
  trt_status status = (*static_cast<WorkHandle*>(work))->wait(timeout_ms, message);
  if (status != TRT_OK) write_error(error, capacity, message);
  return status;
}

trt_status work_test(void* work, int32_t* done, char*, size_t) {
  *done = (*static_cast<WorkHandle*>(work))->done() ? 1 : 0;
  return TRT_OK;
}

void work_free(void* work) {
  auto* handle = static_cast<WorkHandle*>(work);
  std::string ignored;
  (*handle)->wait(-1, ignored);  // the views' memory must outlive the operation (ends on abort too)
  delete handle;
}

void abort_comm(void* comm) { comm_of(comm).abort(); }

void destroy(void* comm) {
  auto* handle = static_cast<CommHandle*>(comm);
  (*handle)->shutdown();
  delete handle;
}

const trt_collective_backend kBackend = {
    sizeof(trt_collective_backend), TRT_PLUGIN_ABI_VERSION, create, all_reduce, broadcast, all_gather,
    reduce_scatter, barrier, work_wait, work_test, work_free, abort_comm, destroy,
};

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t capacity) {
  info->name = "coll-nccl";
  info->version = "0.1.0";
  info->description = "CUDA collectives over NCCL: all_reduce, broadcast, all_gather, reduce_scatter, barrier";
  trt_collective_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "nccl";
  def.device_type = TRT_DEVICE_CUDA;
  def.backend = const_cast<trt_collective_backend*>(&kBackend);
  if (host->register_collective(host->host, &def) != TRT_OK) {
    write_error(error, capacity, "nccl: the host refused the collective registration");
    return TRT_ERR_INTERNAL;
  }
  return TRT_OK;
}

}  // namespace
}  // namespace trt_nccl

TRT_PLUGIN_EXPORT(trt_nccl::init)
