// ProcessGroup and Work, in the spirit of PyTorch c10d: one process's place in
// a group of ranks, and collectives on tensors that return a Work handle.
// The backend (Gloo, NCCL) is a plugin's trt_collective_backend; the group
// owns everything else: argument checks, sequence numbers, timeouts, and the
// error a user reads when a collective fails ("rank 0: all_reduce #12 timed
// out after 300 s; ranks that did not arrive: 1").
// A backend that lacks an operation fails with "<backend> does not support <op>".
// Deliberately not here: who the ranks are (env.h), gradient buckets (reducer.h).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "trainrt/dist/store.h"
#include "trainrt/plugins.h"
#include "trainrt/tensor.h"

namespace trainrt::dist {

enum class ReduceOp { Sum = TRT_REDUCE_SUM, Avg = TRT_REDUCE_AVG, Max = TRT_REDUCE_MAX, Min = TRT_REDUCE_MIN };
// "sum", "avg" (or "mean"), "max", "min"; anything else is an Error listing them.
ReduceOp parse_reduce_op(const std::string& name);
const char* reduce_op_name(ReduceOp op);

class ProcessGroup;
class Monitor;

// A collective in flight. wait() blocks until it is done and rethrows its
// failure as trainrt::Error naming the rank, the op and its sequence number.
// The tensors it reads and writes are kept alive until then.
class Work {
 public:
  ~Work();  // waits for the operation (its buffers must outlive it)
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  // timeout: default the group's. Throws on failure or timeout (and aborts the group).
  void wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  bool is_completed();
  const std::string& op() const { return op_; }
  int64_t seq() const { return seq_; }

 private:
  friend class ProcessGroup;
  Work(std::shared_ptr<ProcessGroup> group, void* handle, std::string op, int64_t seq, std::vector<Tensor> keep_alive);

  std::shared_ptr<ProcessGroup> group_;
  void* handle_;
  std::string op_;
  int64_t seq_;
  std::vector<Tensor> keep_alive_;
  bool waited_ = false;
  std::chrono::steady_clock::time_point issued_ = std::chrono::steady_clock::now();  // for trainrt/metrics.h
};
using WorkPtr = std::shared_ptr<Work>;

// The collective backend of a device when none is named (--backend, [dist]
// backend): nccl for cuda, gloo for cpu.
std::string default_backend(DeviceType type);

struct ProcessGroupOptions {
  std::string backend;  // "" = default_backend(device.type)
  int rank = 0;
  int world_size = 1;
  std::shared_ptr<Store> store;  // keys of this group only (a prefix store)
  std::chrono::milliseconds timeout{300000};
  Device device = Device::cpu();
  std::string local_address;  // "" = store->local_address()
  // How often each rank publishes its progress and looks for another rank's
  // failure report (see monitor.cpp).
  std::chrono::milliseconds heartbeat{1000};
};

class ProcessGroup : public std::enable_shared_from_this<ProcessGroup> {
 public:
  // Connects to the other ranks through the store (blocking, up to the timeout).
  static std::shared_ptr<ProcessGroup> create(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int size() const { return options_.world_size; }
  const std::string& backend_name() const { return options_.backend; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  Device device() const { return options_.device; }

  // tensor <- op over all ranks (in place).
  WorkPtr all_reduce(const Tensor& tensor, ReduceOp op);
  // tensor <- root's tensor.
  WorkPtr broadcast(const Tensor& tensor, int root);
  // output (size() * input.numel() elements, contiguous) <- every rank's input in rank order.
  WorkPtr all_gather(const Tensor& input, const Tensor& output);
  // output (input.numel() / size() elements) <- this rank's chunk of op over all ranks' input.
  WorkPtr reduce_scatter(const Tensor& input, const Tensor& output, ReduceOp op);
  WorkPtr barrier();

  // Fails every pending and later collective of this group, and tells the
  // other ranks (they stop too, see monitor.cpp). Idempotent.
  void abort(const std::string& reason);
  // The first failure reported by this or another rank ("" while healthy).
  std::string failure() const;
  // After another rank's failure report, leave the process if it has not
  // stopped within the monitor's grace (real runs: yes; threads-as-ranks tests: no).
  void set_exit_on_remote_failure(bool exit);

 private:
  friend class Work;
  explicit ProcessGroup(const ProcessGroupOptions& options);
  int64_t next_seq(const char* op);
  WorkPtr issue(const char* op, int64_t seq, std::vector<Tensor> tensors, trt_status status, void* handle, const char* error);
  void check_tensor(const char* op, const Tensor& t) const;
  void* stream() const;
  [[noreturn]] void fail_op(const std::string& op, int64_t seq, trt_status status, const std::string& backend_message);

  ProcessGroupOptions options_;
  const CollectiveBackend* backend_ = nullptr;
  trt_store store_abi_{};
  void* comm_ = nullptr;
  std::atomic<int64_t> seq_{0};
  mutable std::mutex failure_mutex_;
  std::string local_failure_, remote_failure_;
  std::unique_ptr<Monitor> monitor_;
};

}  // namespace trainrt::dist
