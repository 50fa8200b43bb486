// cuBLAS and cuDNN, opened with dlopen on first use (the plugin does not link
// them: linking cost every CPU-only run ~0.15 s and ~218 MB RSS at load), with
// their functions resolved into typed pointers, and the per-(device, thread)
// handles and cuDNN workspaces that linalg.cu and conv_cudnn.cu call through.
// CPU twin: none (ops-cpu links OpenBLAS/oneDNN directly, see gemm.h).
// Deliberately not here: any kernel; the libraries' other functions.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

#include "trainrt/plugin_abi.h"

namespace trt_cuda {

// The cuBLAS functions the kernels use, resolved from libcublas.so.13 (names
// are the exported ones: cublas_v2.h maps cublasCreate to cublasCreate_v2).
struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemmStridedBatched_64) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched_64) dgemm_strided_batched;
  decltype(&cublasGetStatusName) status_name;      // "CUBLAS_STATUS_NOT_SUPPORTED"
  decltype(&cublasGetStatusString) status_string;  // "the requested functionality is not supported"
};

// The cuDNN functions, resolved from libcudnn.so.9, which exports the legacy
// convolution API itself (forwarding to libcudnn_cnn.so.9 / libcudnn_ops.so.9).
struct CudnnApi {
  decltype(&cudnnGetVersion) get_version;
  decltype(&cudnnCreate) create;
  decltype(&cudnnSetStream) set_stream;
  decltype(&cudnnGetErrorString) error_string;
  decltype(&cudnnCreateTensorDescriptor) create_tensor_desc;
  decltype(&cudnnSetTensor4dDescriptor) set_tensor_4d;
  decltype(&cudnnDestroyTensorDescriptor) destroy_tensor_desc;
  decltype(&cudnnCreateFilterDescriptor) create_filter_desc;
  decltype(&cudnnSetFilter4dDescriptor) set_filter_4d;
  decltype(&cudnnDestroyFilterDescriptor) destroy_filter_desc;
  decltype(&cudnnCreateConvolutionDescriptor) create_conv_desc;
  decltype(&cudnnSetConvolution2dDescriptor) set_conv_2d;
  decltype(&cudnnSetConvolutionGroupCount) set_conv_groups;
  decltype(&cudnnSetConvolutionMathType) set_conv_math;
  decltype(&cudnnDestroyConvolutionDescriptor) destroy_conv_desc;
  decltype(&cudnnGetConvolutionForwardAlgorithm_v7) forward_algorithms;
  decltype(&cudnnGetConvolutionBackwardDataAlgorithm_v7) backward_data_algorithms;
  decltype(&cudnnGetConvolutionBackwardFilterAlgorithm_v7) backward_filter_algorithms;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) forward_workspace_size;
  decltype(&cudnnGetConvolutionBackwardDataWorkspaceSize) backward_data_workspace_size;
  decltype(&cudnnGetConvolutionBackwardFilterWorkspaceSize) backward_filter_workspace_size;
  decltype(&cudnnConvolutionForward) convolution_forward;
  decltype(&cudnnConvolutionBackwardData) convolution_backward_data;
  decltype(&cudnnConvolutionBackwardFilter) convolution_backward_filter;
};

// The libraries, loaded once (std::call_once) on the first call from any
// thread. nullptr when missing, with *error set to a one-line reason, e.g.
// "cuBLAS not found: libcublas.so.13: cannot open shared object file: ...;
// install the CUDA 13 runtime libraries or add them to LD_LIBRARY_PATH".
const CublasApi* cublas_api(const char** error);
const CudnnApi* cudnn_api(const char** error);

// TF32 tensor cores for float32 GEMMs and convolutions: off by default (results
// then match the CPU kernels to float32 rounding), on when the environment has
// TRAINRT_CUDA_TF32=1, read once at the first call. set_tf32 is the hook
// through which the runtime will pass its own setting; it wins over the variable.
bool tf32_enabled();
void set_tf32(bool enabled);

// Makes `device` current on the calling thread; "<op>: CUDA error: ..." on failure.
trt_status use_device(const trt_kernel_args* a, const char* op, int device);

// "<op>: cuBLAS error CUBLAS_STATUS_X (description)"; an allocation failure is
// TRT_ERR_OUT_OF_MEMORY, anything else TRT_ERR_INTERNAL.
trt_status cublas_fail(const trt_kernel_args* a, const char* op, cublasStatus_t status);
// "<op>: cuDNN error CUDNN_STATUS_X: <what>", the same mapping.
trt_status cudnn_fail(const trt_kernel_args* a, const char* op, cudnnStatus_t status, const char* what);

// The calling thread's cuBLAS handle on `device` (which must be current; it is
// created on first use and kept for the process), bound to `stream`, with the
// math mode of tf32_enabled().
trt_status cublas_handle(const trt_kernel_args* a, const char* op, int device, cudaStream_t stream,
                         const CublasApi** api, cublasHandle_t* handle);

struct CudnnEntry;  // a handle and its workspace (cuda_libs.cpp)

// One cuDNN call sequence on the calling thread's handle for `device` (current),
// bound to `stream`. Holds the handle's lock while alive, so that
// release_library_caches cannot free the workspace between workspace() and the
// enqueue that uses it.
class CudnnCall {
 public:
  CudnnCall() = default;
  CudnnCall(const CudnnCall&) = delete;
  CudnnCall& operator=(const CudnnCall&) = delete;
  ~CudnnCall();

  trt_status begin(const trt_kernel_args* a, const char* op, int device, cudaStream_t stream);
  // A device buffer of at least `bytes` (nullptr for 0), ordered on the stream:
  // a cached per-handle buffer that only grows (the old one is freed with
  // cudaFreeAsync on the stream it was last used on). TRT_ERR_OUT_OF_MEMORY
  // (with the CUDA error cleared) when it cannot grow, so the caller may try an
  // algorithm that needs less.
  trt_status workspace(size_t bytes, void** ptr);

  const CudnnApi* api = nullptr;
  cudnnHandle_t handle = nullptr;

 private:
  const trt_kernel_args* args_ = nullptr;
  const char* op_ = nullptr;
  cudaStream_t stream_ = nullptr;
  CudnnEntry* entry_ = nullptr;
};

// The empty-cache hook (trt_device_backend.empty_cache): frees the cuDNN
// workspaces held for `device` (stream-ordered). Handles stay; they are small
// and bound to their thread. Loads nothing: a device never used is a no-op.
void release_library_caches(int device);

}  // namespace trt_cuda
