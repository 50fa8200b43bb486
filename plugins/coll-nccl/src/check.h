// Errors of coll-nccl: one exception type carrying a trt_status and a one-line
// message, and TRT_CUDA_CHECK / TRT_NCCL_CHECK that throw it with the call,
// file, line, the library's own reason and a hint (llm.c's cudaCheck/ncclCheck).
// plugin.cpp turns the exception into a status and message at the C boundary.
#pragma once
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "trainrt/plugin_abi.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "coll-nccl needs NCCL >= 2.14 (non-blocking communicators, ncclCommGetAsyncError)"
#endif

namespace trt_nccl {

inline constexpr const char* kHint =
    " (set NCCL_DEBUG=INFO for details; NCCL_SOCKET_IFNAME picks the network interface)";

struct Failure : std::runtime_error {
  Failure(trt_status status, const std::string& message) : std::runtime_error(message), status(status) {}
  trt_status status;
};

// Newlines become spaces: every message the host prints is one line.
inline std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

inline void write_error(char* error, size_t capacity, const std::string& message) {
  if (error && capacity) std::snprintf(error, capacity, "%s", one_line(message).c_str());
}

// How the host should read an NCCL result: a bad call, or a broken communicator.
inline trt_status status_of(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: case ncclInProgress: return TRT_OK;
    case ncclInvalidArgument: case ncclInvalidUsage: return TRT_ERR_INVALID_ARGUMENT;
    case ncclSystemError: case ncclRemoteError: return TRT_ERR_IO;
    default: return TRT_ERR_INTERNAL;  // ncclUnhandledCudaError, ncclInternalError
  }
}

// "nccl: ncclAllReduce failed: remote process exited or there was a network
// error: <NCCL's last error> (set NCCL_DEBUG=INFO ...)". comm may be null.
inline std::string nccl_message(const char* what, ncclResult_t result, ncclComm_t comm) {
  std::string message = std::string("nccl: ") + what + " failed: " + ncclGetErrorString(result);
  const char* last = ncclGetLastError(comm);
  if (last && *last) message += std::string(": ") + last;
  return one_line(message + kHint);
}

inline std::string cuda_message(const char* what, cudaError_t error) {
  return std::string("nccl: ") + what + " failed: " + cudaGetErrorName(error) + ": " + cudaGetErrorString(error);
}

[[noreturn]] inline void throw_nccl(const char* what, ncclResult_t result, ncclComm_t comm, const char* file,
                                    int line) {
  throw Failure(status_of(result), nccl_message(what, result, comm) + " at " + file + ":" + std::to_string(line));
}

[[noreturn]] inline void throw_cuda(const char* what, cudaError_t error, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  throw Failure(error == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL,
                cuda_message(what, error) + " at " + file + ":" + std::to_string(line));
}

}  // namespace trt_nccl

#define TRT_CUDA_CHECK(call)                                                                  \
  do {                                                                                        \
    cudaError_t trt_cuda_error_ = (call);                                                     \
    if (trt_cuda_error_ != cudaSuccess) ::trt_nccl::throw_cuda(#call, trt_cuda_error_, __FILE__, __LINE__); \
  } while (0)

// ncclInProgress is not a failure: a non-blocking communicator is still working.
#define TRT_NCCL_CHECK(comm, call)                                                            \
  do {                                                                                        \
    ncclResult_t trt_nccl_result_ = (call);                                                   \
    if (trt_nccl_result_ != ncclSuccess && trt_nccl_result_ != ncclInProgress)                \
      ::trt_nccl::throw_nccl(#call, trt_nccl_result_, (comm), __FILE__, __LINE__);            \
  } while (0)
