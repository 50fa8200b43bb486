// ProcessGroup and Work over a plugin's trt_collective_backend (see
// process_group.h): checks, sequence numbers, the store handed to the
// backend, and failures turned into one line naming rank, op and sequence.
#include "trainrt/dist/process_group.h"

#include <cstring>
#include <sstream>

#include "monitor.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/log.h"
#include "trainrt/metrics.h"

namespace trainrt::dist {
namespace {

constexpr size_t kErrorCapacity = 1024;

// ---- the host's Store as a trt_store for the backend ----------------------

trt_status store_call(char* error, size_t capacity, const std::function<void()>& call) {
  try {
    call();
    return TRT_OK;
  } catch (const StoreTimeout& e) {
    if (error && capacity) std::snprintf(error, capacity, "%s", e.what());
    return TRT_ERR_TIMEOUT;
  } catch (const std::exception& e) {
    if (error && capacity) std::snprintf(error, capacity, "%s", e.what());
    return TRT_ERR_IO;
  }
}

Store& store_of(void* handle) { return *static_cast<Store*>(handle); }

trt_status abi_store_set(void* handle, const char* key, const void* value, size_t size, char* error, size_t cap) {
  return store_call(error, cap, [&] { store_of(handle).set(key, std::string(static_cast<const char*>(value), size)); });
}

trt_status abi_store_get(void* handle, const char* key, void* value, size_t capacity, size_t* size, int64_t timeout_ms,
                         char* error, size_t cap) {
  std::string got;
  trt_status status =
      store_call(error, cap, [&] { got = store_of(handle).get(key, std::chrono::milliseconds(timeout_ms)); });
  if (status != TRT_OK) return status;
  *size = got.size();
  if (got.size() > capacity) {
    std::snprintf(error, cap, "store value of %s has %zu bytes, buffer %zu", key, got.size(), capacity);
    return TRT_ERR_INVALID_ARGUMENT;
  }
  std::memcpy(value, got.data(), got.size());
  return TRT_OK;
}

trt_status abi_store_add(void* handle, const char* key, int64_t delta, int64_t* result, char* error, size_t cap) {
  return store_call(error, cap, [&] { *result = store_of(handle).add(key, delta); });
}

trt_status abi_store_wait(void* handle, const char* const* keys, int32_t n_keys, int64_t timeout_ms, char* error,
                          size_t cap) {
  std::vector<std::string> names(keys, keys + n_keys);
  return store_call(error, cap, [&] { store_of(handle).wait(names, std::chrono::milliseconds(timeout_ms)); });
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::ostringstream out;
  for (size_t i = 0; i < ranks.size(); ++i) out << (i ? ", " : "") << ranks[i];
  return out.str();
}

std::string seconds_text(std::chrono::milliseconds t) {
  std::ostringstream out;
  out << static_cast<double>(t.count()) / 1000.0 << " s";
  return out.str();
}

}  // namespace

ReduceOp parse_reduce_op(const std::string& name) {
  if (name == "sum") return ReduceOp::Sum;
  if (name == "avg" || name == "mean") return ReduceOp::Avg;
  if (name == "max") return ReduceOp::Max;
  if (name == "min") return ReduceOp::Min;
  fail("unknown reduce op '" + name + "' (use sum, avg, max or min)");
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

// ---- Work -----------------------------------------------------------------

Work::Work(std::shared_ptr<ProcessGroup> group, void* handle, std::string op, int64_t seq,
           std::vector<Tensor> keep_alive)
    : group_(std::move(group)), handle_(handle), op_(std::move(op)), seq_(seq), keep_alive_(std::move(keep_alive)) {}

Work::~Work() {
  if (handle_) group_->backend_->table.work_free(handle_);
}

bool Work::is_completed() {
  if (waited_) return true;
  int32_t done = 0;
  char error[kErrorCapacity] = {0};
  group_->backend_->table.work_test(handle_, &done, error, sizeof error);
  return done != 0;
}

void Work::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (waited_) return;
  std::chrono::milliseconds limit = timeout.value_or(group_->timeout());
  char error[kErrorCapacity] = {0};
  auto wait_start = std::chrono::steady_clock::now();
  trt_status status = group_->backend_->table.work_wait(handle_, limit.count(), error, sizeof error);
  waited_ = true;
  if (status == TRT_OK) {
    keep_alive_.clear();
    auto now = std::chrono::steady_clock::now();
    metrics::record_collective_done(op_.c_str(), seq_, std::chrono::duration<double>(now - issued_).count(),
                                    std::chrono::duration<double>(now - wait_start).count());
    return;
  }
  group_->fail_op(op_, seq_, status, error);
}

// ---- ProcessGroup ---------------------------------------------------------

std::string default_backend(DeviceType type) { return type == DeviceType::CUDA ? "nccl" : "gloo"; }

std::shared_ptr<ProcessGroup> ProcessGroup::create(const ProcessGroupOptions& options) {
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(options));
}

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) {
  if (options_.backend.empty()) options_.backend = default_backend(options.device.type);
  const int rank = options.rank;
  TRT_CHECK(options.store, "process group: no rendezvous store");
  TRT_CHECK(options.world_size >= 1 && rank >= 0 && rank < options.world_size, "process group: rank ", rank,
            " is not in [0, ", options.world_size, ")");
  TRT_CHECK(options.timeout.count() > 0, "process group: the timeout must be positive, got ", options.timeout.count(),
            " ms");
  backend_ = find_collective(options_.backend);
  if (!backend_) {
    std::string loaded;
    for (const std::string& name : collective_names()) loaded += (loaded.empty() ? "" : ", ") + name;
    fail("no collective backend '" + options_.backend + "' (loaded: " + (loaded.empty() ? "none" : loaded) +
         "); is the coll-" + options_.backend + " plugin on the plugin path? (run `trainrt plugins`)");
  }
  TRT_CHECK(backend_->device_type == options.device.type, "backend ", options_.backend, " moves ",
            device_type_name(backend_->device_type), " tensors, but this rank trains on ", options.device.str(),
            "; choose another --backend");

  store_abi_.struct_size = sizeof(store_abi_);
  store_abi_.abi_version = TRT_PLUGIN_ABI_VERSION;
  store_abi_.handle = options_.store.get();
  store_abi_.set = abi_store_set;
  store_abi_.get = abi_store_get;
  store_abi_.add = abi_store_add;
  store_abi_.wait = abi_store_wait;

  std::string local_address = options.local_address.empty() ? options.store->local_address() : options.local_address;
  trt_comm_options comm{};
  comm.struct_size = sizeof(comm);
  comm.abi_version = TRT_PLUGIN_ABI_VERSION;
  comm.rank = rank;
  comm.world_size = options.world_size;
  comm.store = &store_abi_;
  comm.timeout_ms = options.timeout.count();
  comm.device_type = static_cast<int32_t>(options.device.type);
  comm.device_index = options.device.index;
  comm.local_address = local_address.c_str();
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.create(&comm, &comm_, error, sizeof error);
  if (status != TRT_OK)
    fail("rank " + std::to_string(rank) + ": cannot create the " + options_.backend + " communicator: " +
         (error[0] ? error : "status " + std::to_string(status)));
  monitor_ = std::make_unique<Monitor>(options_.store, rank, options.world_size, options.heartbeat,
                                       [this](const std::string& reason) {
                                         {
                                           std::lock_guard lock(failure_mutex_);
                                           if (local_failure_.empty() && remote_failure_.empty())
                                             remote_failure_ = reason;
                                         }
                                         backend_->table.abort(comm_);
                                       });
}

ProcessGroup::~ProcessGroup() {
  monitor_.reset();
  if (comm_) backend_->table.destroy(comm_);
}

void ProcessGroup::set_exit_on_remote_failure(bool exit) { monitor_->set_exit_on_remote_failure(exit); }

std::string ProcessGroup::failure() const {
  std::lock_guard lock(failure_mutex_);
  return local_failure_.empty() ? remote_failure_ : local_failure_;
}

void ProcessGroup::check_tensor(const char* op, const Tensor& t) const {
  TRT_CHECK(t.defined(), op, ": undefined tensor");
  TRT_CHECK(t.device() == options_.device, op, ": tensor on ", t.device().str(), ", but the ", options_.backend,
            " group of rank ", rank(), " moves ", options_.device.str(), " tensors");
  TRT_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64 || t.dtype() == DType::Int64, op,
            ": dtype ", dtype_name(t.dtype()), " is not supported (float32, float64 or int64)");
  TRT_CHECK(t.is_contiguous(), op, ": tensor ", t.shape_str(), " is not contiguous; call :contiguous() first");
  // The backend's thread reads and writes this memory: the kernels queued on it
  // must have run first (a CUDA backend would order itself on the stream instead).
  t.storage()->wait_ready();
}

int64_t ProcessGroup::next_seq(const char* op) {
  std::string earlier = failure();
  if (!earlier.empty())
    fail("rank " + std::to_string(rank()) + ": " + op + " refused: the process group failed earlier: " + earlier);
  int64_t seq = ++seq_;
  monitor_->issued(seq);
  metrics::record_collective_issued(seq);
  return seq;
}

WorkPtr ProcessGroup::issue(const char* op, int64_t seq, std::vector<Tensor> tensors, trt_status status, void* handle,
                            const char* error) {
  if (status != TRT_OK) fail_op(op, seq, status, error);
  return WorkPtr(new Work(shared_from_this(), handle, op, seq, std::move(tensors)));
}

void ProcessGroup::fail_op(const std::string& op, int64_t seq, trt_status status, const std::string& backend_message) {
  std::string where = "rank " + std::to_string(rank()) + ": " + op + " #" + std::to_string(seq);
  std::string remote;
  {
    std::lock_guard lock(failure_mutex_);
    remote = remote_failure_;
  }
  std::string message;
  if (status == TRT_ERR_INVALID_ARGUMENT || status == TRT_ERR_UNSUPPORTED) {
    fail(where + ": " + backend_message);  // a bad call, not a broken group
  } else if (!remote.empty()) {
    message = where + " stopped because another rank failed: " + remote;
  } else {
    std::vector<int> behind = monitor_->ranks_behind(seq);
    std::string who = behind.empty() ? "every rank reached it" : "ranks that did not arrive: " + join_ranks(behind);
    if (status == TRT_ERR_TIMEOUT)
      message = where + " timed out after " + seconds_text(options_.timeout) + "; " + who +
                " (stuck before this collective, or dead; raise --timeout if they are only slow)";
    else
      message = where + " failed: " + backend_message + "; " + who;
  }
  abort(message);
  fail(message);
}

void ProcessGroup::abort(const std::string& reason) {
  {
    std::lock_guard lock(failure_mutex_);
    if (!local_failure_.empty() || !remote_failure_.empty()) return;
    local_failure_ = reason;
  }
  monitor_->report_failure(reason);
  backend_->table.abort(comm_);
}

// The device queue's stream (CUDA): the collective is ordered after the
// kernels enqueued there and before later ones. nullptr on the CPU.
void* ProcessGroup::stream() const { return device_stream(options_.device); }

WorkPtr ProcessGroup::all_reduce(const Tensor& tensor, ReduceOp op) {
  check_tensor("all_reduce", tensor);
  TRT_CHECK(backend_->table.all_reduce, options_.backend, " does not support all_reduce");
  TRT_CHECK(op != ReduceOp::Avg || is_floating(tensor.dtype()), "all_reduce: avg needs a floating-point tensor, got ",
            dtype_name(tensor.dtype()), " (use sum)");
  int64_t seq = next_seq("all_reduce");
  trt_tensor_view view = to_view(tensor);
  void* handle = nullptr;
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.all_reduce(comm_, &view, static_cast<int32_t>(op), stream(), &handle, error,
                                                 sizeof error);
  return issue("all_reduce", seq, {tensor}, status, handle, error);
}

WorkPtr ProcessGroup::broadcast(const Tensor& tensor, int root) {
  check_tensor("broadcast", tensor);
  TRT_CHECK(backend_->table.broadcast, options_.backend, " does not support broadcast");
  TRT_CHECK(root >= 0 && root < size(), "broadcast: root ", root, " is not a rank of this group [0, ", size(), ")");
  int64_t seq = next_seq("broadcast");
  trt_tensor_view view = to_view(tensor);
  void* handle = nullptr;
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.broadcast(comm_, &view, root, stream(), &handle, error, sizeof error);
  return issue("broadcast", seq, {tensor}, status, handle, error);
}

WorkPtr ProcessGroup::all_gather(const Tensor& input, const Tensor& output) {
  check_tensor("all_gather", input);
  check_tensor("all_gather", output);
  TRT_CHECK(backend_->table.all_gather, options_.backend, " does not support all_gather");
  TRT_CHECK(output.dtype() == input.dtype(), "all_gather: output is ", dtype_name(output.dtype()), " but input is ",
            dtype_name(input.dtype()));
  TRT_CHECK(output.numel() == input.numel() * size(), "all_gather: output ", output.shape_str(), " must hold ",
            size(), " x ", input.numel(), " elements (input ", input.shape_str(), ")");
  int64_t seq = next_seq("all_gather");
  trt_tensor_view in = to_view(input), out = to_view(output);
  void* handle = nullptr;
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.all_gather(comm_, &in, &out, stream(), &handle, error, sizeof error);
  return issue("all_gather", seq, {input, output}, status, handle, error);
}

WorkPtr ProcessGroup::reduce_scatter(const Tensor& input, const Tensor& output, ReduceOp op) {
  check_tensor("reduce_scatter", input);
  check_tensor("reduce_scatter", output);
  TRT_CHECK(backend_->table.reduce_scatter, options_.backend, " does not support reduce_scatter");
  TRT_CHECK(output.dtype() == input.dtype(), "reduce_scatter: output is ", dtype_name(output.dtype()),
            " but input is ", dtype_name(input.dtype()));
  TRT_CHECK(input.numel() % size() == 0, "reduce_scatter: input ", input.shape_str(), " (", input.numel(),
            " elements) does not split evenly over ", size(), " ranks");
  TRT_CHECK(output.numel() * size() == input.numel(), "reduce_scatter: output ", output.shape_str(), " must hold ",
            input.numel() / size(), " elements (input ", input.shape_str(), " over ", size(), " ranks)");
  TRT_CHECK(op != ReduceOp::Avg || is_floating(input.dtype()), "reduce_scatter: avg needs a floating-point tensor");
  int64_t seq = next_seq("reduce_scatter");
  trt_tensor_view in = to_view(input), out = to_view(output);
  void* handle = nullptr;
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.reduce_scatter(comm_, &in, &out, static_cast<int32_t>(op), stream(), &handle,
                                                     error, sizeof error);
  return issue("reduce_scatter", seq, {input, output}, status, handle, error);
}

WorkPtr ProcessGroup::barrier() {
  TRT_CHECK(backend_->table.barrier, options_.backend, " does not support barrier");
  int64_t seq = next_seq("barrier");
  void* handle = nullptr;
  char error[kErrorCapacity] = {0};
  trt_status status = backend_->table.barrier(comm_, &handle, error, sizeof error);
  return issue("barrier", seq, {}, status, handle, error);
}

}  // namespace trainrt::dist
