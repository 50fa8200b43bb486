// NCCL communicator: device check, unique-id rendezvous through the host's
// store, non-blocking initialization, enqueue, health, abort (see comm.h).
#include "comm.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "store_adapter.h"
#include "work.h"

namespace trt_nccl {
namespace {

using Clock = std::chrono::steady_clock;

// Rank 0 writes 'I' + the ncclUniqueId, or 'E' + why it could not, so the
// other ranks fail at once instead of waiting out the timeout.
constexpr const char* kIdKey = "nccl/unique_id";

std::string visible_devices_text() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return std::string("CUDA_VISIBLE_DEVICES=") + (v ? v : "unset");
}

std::string seconds_text(std::chrono::milliseconds t) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(t.count()) / 1000.0);
  return text;
}

// A failure NCCL reports asynchronously breaks the communicator: never a bad call.
trt_status async_status(ncclResult_t state) {
  trt_status s = status_of(state);
  return s == TRT_ERR_INVALID_ARGUMENT ? TRT_ERR_INTERNAL : s;
}

ncclUniqueId exchange_unique_id(int rank, const std::string& problem, StoreAdapter& store) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (rank == 0) {
    std::string error = problem;
    if (error.empty()) {
      ncclResult_t r = ncclGetUniqueId(&id);
      if (r != ncclSuccess) error = nccl_message("ncclGetUniqueId", r, nullptr);
    }
    if (!error.empty()) {
      try {
        store.set(kIdKey, "E" + error);
      } catch (const Failure&) {  // the peers time out instead; this rank's reason matters more
      }
      throw Failure(TRT_ERR_UNSUPPORTED, error);
    }
    store.set(kIdKey, "I" + std::string(reinterpret_cast<const char*>(&id), sizeof id));
    return id;
  }
  if (!problem.empty()) throw Failure(TRT_ERR_UNSUPPORTED, problem);
  std::string value = store.get(kIdKey);
  if (!value.empty() && value[0] == 'E')
    throw Failure(TRT_ERR_ABORTED, "rank 0 could not start the communicator: " + value.substr(1));
  if (value.size() != 1 + sizeof id || value[0] != 'I')
    throw Failure(TRT_ERR_IO, "nccl: the store holds a malformed " + std::string(kIdKey) + " (" +
                                  std::to_string(value.size()) + " bytes): another job with the same store prefix?");
  std::memcpy(&id, value.data() + 1, sizeof id);
  return id;
}

}  // namespace

std::string device_problem(int index) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("nccl: no CUDA device visible (") + cudaGetErrorString(e) + "; " + visible_devices_text() + ")";
  }
  if (count == 0) return "nccl: no CUDA device visible (0 devices; " + visible_devices_text() + ")";
  if (index < 0 || index >= count)
    return "nccl: cuda:" + std::to_string(index) + " is not visible: " + std::to_string(count) +
           " CUDA device(s) with " + visible_devices_text();
  return "";
}

DeviceGuard::DeviceGuard(int device) : device_(device) {
  if (cudaGetDevice(&previous_) != cudaSuccess) {
    cudaGetLastError();
    previous_ = -1;
  }
  if (previous_ != device_) TRT_CUDA_CHECK(cudaSetDevice(device_));
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0 && previous_ != device_) cudaSetDevice(previous_);
}

Comm::Comm(const trt_comm_options& options)
    : rank_(options.rank),
      size_(options.world_size),
      device_(options.device_index),
      timeout_(std::chrono::milliseconds(options.timeout_ms)) {
  const Clock::time_point deadline = Clock::now() + timeout_;
  StoreAdapter store(options.store, timeout_);
  ncclUniqueId id = exchange_unique_id(rank_, device_problem(device_), store);
  try {
    DeviceGuard guard(device_);
    TRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TRT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), sizeof(float)));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every call returns at once; wait_ready polls with the timeout
    std::lock_guard lock(mutex_);
    TRT_NCCL_CHECK(comm_, ncclCommInitRankConfig(&comm_, size_, id, rank_, &config));
    wait_ready("ncclCommInitRankConfig (" + std::to_string(size_) + " ranks)", deadline);
  } catch (...) {
    release();
    throw;
  }
}

Comm::~Comm() { shutdown(); }

void Comm::wait_ready(const std::string& what, Clock::time_point deadline) {
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    TRT_NCCL_CHECK(comm_, ncclCommGetAsyncError(comm_, &state));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) throw Failure(async_status(state), nccl_message(what.c_str(), state, comm_));
    if (aborting_) throw Failure(TRT_ERR_ABORTED, "nccl: aborted during " + what);
    if (Clock::now() >= deadline)
      throw Failure(TRT_ERR_TIMEOUT, "nccl: " + what + " did not finish within " + seconds_text(timeout_) +
                                         " (did every rank start?)" + kHint);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
}

void Comm::fail_locked(trt_status status, const std::string& message) {
  if (!failure_.empty()) return;
  failure_ = message;
  failure_status_ = status;
}

std::shared_ptr<Work> Comm::enqueue(const char* op, void* stream, const Call& call) {
  std::lock_guard lock(mutex_);
  if (aborting_ || !failure_.empty() || !comm_)
    throw Failure(TRT_ERR_ABORTED, (failure_.empty() ? std::string("nccl: the communicator was aborted") : failure_) +
                                       " (an earlier failure; the communicator is unusable)");
  DeviceGuard guard(device_);
  cudaStream_t s = stream ? static_cast<cudaStream_t>(stream) : stream_;
  try {
    ncclResult_t r = call(comm_, s);
    if (r != ncclSuccess && r != ncclInProgress) throw Failure(status_of(r), nccl_message(op, r, comm_));
    if (r == ncclInProgress) wait_ready(op, Clock::now() + timeout_);
  } catch (const Failure& f) {
    if (f.status != TRT_ERR_INVALID_ARGUMENT) fail_locked(f.status, f.what());  // a bad call leaves it usable
    throw;
  }
  cudaEvent_t event = nullptr;
  TRT_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  cudaError_t e = cudaEventRecord(event, s);
  if (e != cudaSuccess) {
    cudaEventDestroy(event);
    throw_cuda("cudaEventRecord", e, __FILE__, __LINE__);
  }
  return std::make_shared<Work>(shared_from_this(), event);
}

trt_status Comm::health(std::string& message) {
  std::lock_guard lock(mutex_);
  if (failure_.empty() && aborting_) fail_locked(TRT_ERR_ABORTED, "nccl: the communicator was aborted");
  if (failure_.empty() && comm_) {
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
    if (r != ncclSuccess) state = r;
    if (state != ncclSuccess && state != ncclInProgress)
      fail_locked(async_status(state), nccl_message("the communicator", state, comm_));
  }
  if (failure_.empty()) return TRT_OK;
  message = failure_;
  return failure_status_;
}

void Comm::abort() {
  aborting_ = true;  // first, so a wait_ready holding the mutex gives up
  std::lock_guard lock(mutex_);
  fail_locked(TRT_ERR_ABORTED, "nccl: the communicator was aborted");
  failure_status_ = TRT_ERR_ABORTED;  // the first failure's message, the abort's status
  if (comm_) {
    ncclCommAbort(comm_);  // frees it; its kernels stop
    comm_ = nullptr;
  }
}

void Comm::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (comm_) {
      bool finalized = false;
      ncclResult_t r = failure_.empty() && !aborting_ ? ncclCommFinalize(comm_) : ncclInvalidUsage;
      if (r == ncclSuccess || r == ncclInProgress) {
        try {
          wait_ready("ncclCommFinalize", Clock::now() + timeout_);
          finalized = true;
        } catch (const Failure&) {  // a peer died or the operations hang: abort below
        }
      }
      if (finalized) ncclCommDestroy(comm_);
      else ncclCommAbort(comm_);
      comm_ = nullptr;
    }
    fail_locked(TRT_ERR_ABORTED, "nccl: the communicator was destroyed");
  }
  release();
}

void Comm::release() {
  if (comm_) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  if (!stream_ && !scratch_) return;
  if (cudaSetDevice(device_) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  if (stream_) cudaStreamDestroy(stream_);
  if (scratch_) cudaFree(scratch_);
  stream_ = nullptr;
  scratch_ = nullptr;
}

}  // namespace trt_nccl
