// Gloo communicator: connection setup through the host's store and the
// in-order worker thread (see comm.h).
#include "comm.h"

#include <gloo/common/error.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>

#include <cstdlib>
#include <stdexcept>

#include "store_adapter.h"

namespace trt_gloo {
namespace {

// GLOO_SOCKET_IFNAME (as in PyTorch) wins; else the address the host found
// routes to the master; else Gloo resolves this machine's hostname.
std::shared_ptr<gloo::transport::Device> make_device(const trt_comm_options& options) {
  gloo::transport::tcp::attr attr;
  const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
  if (iface && *iface) attr.iface = iface;
  else if (options.local_address && *options.local_address) attr.hostname = options.local_address;
  try {
    return gloo::transport::tcp::CreateDevice(attr);
  } catch (const std::exception& e) {
    std::string where = !attr.iface.empty() ? "interface " + attr.iface + " (GLOO_SOCKET_IFNAME)"
                        : !attr.hostname.empty() ? "address " + attr.hostname
                                                 : "this machine's hostname";
    throw std::runtime_error("gloo: cannot open a TCP device on " + where + ": " + e.what() +
                             "; set GLOO_SOCKET_IFNAME to the interface that reaches the other nodes");
  }
}

// Gloo reports a timeout as an IoException whose text says "Timed out".
trt_status status_of(const gloo::IoException& e) {
  return std::string(e.what()).find("Timed out") != std::string::npos ? TRT_ERR_TIMEOUT : TRT_ERR_IO;
}

}  // namespace

Comm::Comm(const trt_comm_options& options)
    : rank_(options.rank), size_(options.world_size), timeout_(std::chrono::milliseconds(options.timeout_ms)) {
  auto device = make_device(options);
  StoreAdapter store(options.store, timeout_);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank_, size_);
  context->setTimeout(timeout_);
  try {
    context->connectFullMesh(store, device);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("gloo: connecting rank ") + std::to_string(rank_) + " to its " +
                             std::to_string(size_ - 1) + " peers failed: " + e.what());
  }
  context_ = context;
  worker_ = std::thread([this] { run_worker(); });
}

Comm::~Comm() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::shared_ptr<Work> Comm::enqueue(Body body) {
  auto work = std::make_shared<Work>();
  {
    std::lock_guard lock(mutex_);
    if (!failure_.empty()) {
      work->finish(TRT_ERR_ABORTED, failure_);
      return work;
    }
    queue_.push_back({std::move(body), work});
  }
  queue_cv_.notify_one();
  return work;
}

void Comm::abort() {
  std::deque<Task> dropped;
  {
    std::lock_guard lock(mutex_);
    if (failure_.empty()) {
      failure_ = "gloo: the communicator was aborted";
      failure_status_ = TRT_ERR_ABORTED;
    }
    dropped.swap(queue_);
  }
  for (Task& t : dropped) t.work->finish(TRT_ERR_ABORTED, failure_);
}

void Comm::run_worker() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
      if (!failure_.empty()) {
        lock.unlock();
        task.work->finish(TRT_ERR_ABORTED, failure_);
        continue;
      }
    }
    run_task(task);
  }
}

void Comm::run_task(Task& task) {
  trt_status status = TRT_OK;
  std::string message;
  try {
    task.body(context_, next_tag_++);
  } catch (const gloo::IoException& e) {
    status = status_of(e);
    message = std::string("gloo: ") + e.what();
  } catch (const std::exception& e) {
    status = TRT_ERR_INTERNAL;
    message = std::string("gloo: ") + e.what();
  }
  if (status != TRT_OK) {
    std::lock_guard lock(mutex_);
    if (failure_.empty()) {
      failure_ = message + " (an earlier operation failed; the communicator is unusable)";
      failure_status_ = status;
    }
  }
  task.work->finish(status, std::move(message));
}

}  // namespace trt_gloo
