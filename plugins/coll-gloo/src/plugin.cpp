// coll-gloo: the trt_collective_backend table over Gloo, registered as "gloo"
// for CPU tensors. Every entry catches C++ exceptions and turns them into a
// status and a one-line message: nothing crosses the C boundary.
#include <memory>
#include <stdexcept>

#include "collectives.h"
#include "comm.h"

namespace trt_gloo {
namespace {

using WorkHandle = std::shared_ptr<Work>;

trt_status create(const trt_comm_options* options, void** comm, char* error, size_t capacity) {
  if (!options || options->struct_size < sizeof(trt_comm_options) || !options->store || !comm) {
    write_error(error, capacity, "gloo: create needs a complete trt_comm_options with a store");
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (options->device_type != TRT_DEVICE_CPU) {
    write_error(error, capacity, "gloo: moves CPU tensors only; use the nccl backend for CUDA devices");
    return TRT_ERR_UNSUPPORTED;
  }
  try {
    *comm = new Comm(*options);
    return TRT_OK;
  } catch (const std::exception& e) {
    write_error(error, capacity, e.what());
    return TRT_ERR_IO;
  }
}

// Enqueues the body `make()` builds; a bad argument it throws becomes INVALID_ARGUMENT.
template <typename Make> trt_status enqueue(void* comm, void** work, char* error, size_t capacity, Make make) {
  try {
    Comm::Body body = make(*static_cast<Comm*>(comm));
    *work = new WorkHandle(static_cast<Comm*>(comm)->enqueue(std::move(body)));
    return TRT_OK;
  } catch (const std::invalid_argument& e) {
    write_error(error, capacity, e.what());
    return TRT_ERR_INVALID_ARGUMENT;
  } catch (const std::exception& e) {
    write_error(error, capacity, std::string("gloo: ") + e.what());
    return TRT_ERR_INTERNAL;
  }
}

trt_status all_reduce(void* comm, const trt_tensor_view* tensor, int32_t op, void*, void** work, char* error,
                      size_t capacity) {
  return enqueue(comm, work, error, capacity, [&](Comm& c) { return all_reduce_body(*tensor, op, c.size()); });
}

trt_status broadcast(void* comm, const trt_tensor_view* tensor, int32_t root, void*, void** work, char* error,
                     size_t capacity) {
  return enqueue(comm, work, error, capacity, [&](Comm&) { return broadcast_body(*tensor, root); });
}

trt_status all_gather(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, void*, void** work,
                      char* error, size_t capacity) {
  return enqueue(comm, work, error, capacity, [&](Comm&) { return all_gather_body(*input, *output); });
}

trt_status reduce_scatter(void* comm, const trt_tensor_view* input, const trt_tensor_view* output, int32_t op, void*,
                          void** work, char* error, size_t capacity) {
  return enqueue(comm, work, error, capacity,
                 [&](Comm& c) { return reduce_scatter_body(*input, *output, op, c.rank(), c.size()); });
}

trt_status barrier(void* comm, void** work, char* error, size_t capacity) {
  return enqueue(comm, work, error, capacity, [](Comm&) { return barrier_body(); });
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
  (*handle)->wait(-1, ignored);  // the views' memory must outlive the operation
  delete handle;
}

void abort_comm(void* comm) { static_cast<Comm*>(comm)->abort(); }

void destroy(void* comm) {
  auto* c = static_cast<Comm*>(comm);
  c->abort();
  delete c;
}

const trt_collective_backend kBackend = {
    sizeof(trt_collective_backend), TRT_PLUGIN_ABI_VERSION, create, all_reduce, broadcast, all_gather,
    reduce_scatter, barrier, work_wait, work_test, work_free, abort_comm, destroy,
};

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t capacity) {
  info->name = "coll-gloo";
  info->version = "0.1.0";
  info->description = "CPU collectives over Gloo (TCP): all_reduce, broadcast, all_gather, reduce_scatter, barrier";
  trt_collective_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "gloo";
  def.device_type = TRT_DEVICE_CPU;
  def.backend = const_cast<trt_collective_backend*>(&kBackend);
  if (host->register_collective(host->host, &def) != TRT_OK) {
    write_error(error, capacity, "gloo: the host refused the collective registration");
    return TRT_ERR_INTERNAL;
  }
  return TRT_OK;
}

}  // namespace
}  // namespace trt_gloo

TRT_PLUGIN_EXPORT(trt_gloo::init)
