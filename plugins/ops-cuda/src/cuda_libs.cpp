// Lazy cuBLAS and cuDNN: dlopen on first use, dlsym into the typed tables of
// cuda_libs.h, handles per (device, host thread), cuDNN workspaces and the
// empty-cache hook. CPU twin: none (ops-cpu links its libraries).
// Deliberately not here: destroying handles at exit (the CUDA runtime may be
// torn down before static destructors run; the process exit frees them).
#include "cuda_libs.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "kernel_util.cuh"

namespace trt_cuda {

// ---- loading ----------------------------------------------------------------

namespace {

// Opens the first of `names` that loads; on failure *error holds the first
// name's dlerror (the versioned soname is the one worth reporting).
void* open_library(std::initializer_list<const char*> names, std::string* opened, std::string* error) {
  for (const char* name : names) {
    if (void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      *opened = name;
      return lib;
    }
    const char* why = dlerror();
    if (error->empty()) *error = why ? why : name;
  }
  return nullptr;
}

// `needs` names the library version, e.g. "cuBLAS 13".
template <typename F>
bool resolve(void* lib, const std::string& lib_name, const char* symbol, F* out, const char* needs, std::string* error) {
  dlerror();
  void* p = dlsym(lib, symbol);
  if (!p) {
    *error = std::string(lib_name) + " has no " + symbol + " (ops-cuda needs " + needs + ")";
    return false;
  }
  *out = reinterpret_cast<F>(p);
  return true;
}

struct CublasLibrary {
  std::once_flag once;
  CublasApi api{};
  bool ok = false;
  std::string error;
};

struct CudnnLibrary {
  std::once_flag once;
  CudnnApi api{};
  bool ok = false;
  std::string error;
};

void load_cublas(CublasLibrary& l) {
  std::string name, why;
  void* lib = open_library({"libcublas.so.13", "libcublas.so"}, &name, &why);
  if (!lib) {
    l.error = "cuBLAS not found: " + why + "; install the CUDA 13 runtime libraries or add them to LD_LIBRARY_PATH";
    return;
  }
  decltype(&cublasGetProperty) get_property = nullptr;
  bool ok = resolve(lib, name, "cublasGetProperty", &get_property, "cuBLAS 13", &l.error);
  int major = 0;
  if (ok && (get_property(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS || major != CUBLAS_VER_MAJOR)) {
    l.error = "cuBLAS: " + name + " is version " + std::to_string(major) + ", ops-cuda needs " +
              std::to_string(CUBLAS_VER_MAJOR) + "; install the CUDA 13 runtime libraries";
    ok = false;
  }
#define TRT_CUBLAS_SYM(field, symbol) ok = ok && resolve(lib, name, #symbol, &l.api.field, "cuBLAS 13", &l.error)
  TRT_CUBLAS_SYM(create, cublasCreate_v2);
  TRT_CUBLAS_SYM(set_stream, cublasSetStream_v2);
  TRT_CUBLAS_SYM(set_math_mode, cublasSetMathMode);
  TRT_CUBLAS_SYM(sgemm_strided_batched, cublasSgemmStridedBatched_64);
  TRT_CUBLAS_SYM(dgemm_strided_batched, cublasDgemmStridedBatched_64);
  TRT_CUBLAS_SYM(status_name, cublasGetStatusName);
  TRT_CUBLAS_SYM(status_string, cublasGetStatusString);
#undef TRT_CUBLAS_SYM
  l.ok = ok;
  // On failure the library stays open: dlclose of a half-used CUDA library buys nothing.
}

void load_cudnn(CudnnLibrary& l) {
  std::string name, why;
  void* lib = open_library({"libcudnn.so.9", "libcudnn.so"}, &name, &why);
  if (!lib) {
    l.error = "cuDNN not found: " + why + "; install cuDNN 9 for CUDA 13 or add it to LD_LIBRARY_PATH";
    return;
  }
  bool ok = true;
#define TRT_CUDNN_SYM(field, symbol) ok = ok && resolve(lib, name, #symbol, &l.api.field, "cuDNN 9", &l.error)
  TRT_CUDNN_SYM(get_version, cudnnGetVersion);
  if (ok && l.api.get_version() / 10000 != CUDNN_MAJOR) {
    l.error = "cuDNN: " + name + " is version " + std::to_string(l.api.get_version()) + ", ops-cuda needs " +
              std::to_string(CUDNN_MAJOR) + ".x; install cuDNN 9";
    ok = false;
  }
  TRT_CUDNN_SYM(create, cudnnCreate);
  TRT_CUDNN_SYM(set_stream, cudnnSetStream);
  TRT_CUDNN_SYM(error_string, cudnnGetErrorString);
  TRT_CUDNN_SYM(create_tensor_desc, cudnnCreateTensorDescriptor);
  TRT_CUDNN_SYM(set_tensor_4d, cudnnSetTensor4dDescriptor);
  TRT_CUDNN_SYM(destroy_tensor_desc, cudnnDestroyTensorDescriptor);
  TRT_CUDNN_SYM(create_filter_desc, cudnnCreateFilterDescriptor);
  TRT_CUDNN_SYM(set_filter_4d, cudnnSetFilter4dDescriptor);
  TRT_CUDNN_SYM(destroy_filter_desc, cudnnDestroyFilterDescriptor);
  TRT_CUDNN_SYM(create_conv_desc, cudnnCreateConvolutionDescriptor);
  TRT_CUDNN_SYM(set_conv_2d, cudnnSetConvolution2dDescriptor);
  TRT_CUDNN_SYM(set_conv_groups, cudnnSetConvolutionGroupCount);
  TRT_CUDNN_SYM(set_conv_math, cudnnSetConvolutionMathType);
  TRT_CUDNN_SYM(destroy_conv_desc, cudnnDestroyConvolutionDescriptor);
  TRT_CUDNN_SYM(forward_algorithms, cudnnGetConvolutionForwardAlgorithm_v7);
  TRT_CUDNN_SYM(backward_data_algorithms, cudnnGetConvolutionBackwardDataAlgorithm_v7);
  TRT_CUDNN_SYM(backward_filter_algorithms, cudnnGetConvolutionBackwardFilterAlgorithm_v7);
  TRT_CUDNN_SYM(forward_workspace_size, cudnnGetConvolutionForwardWorkspaceSize);
  TRT_CUDNN_SYM(backward_data_workspace_size, cudnnGetConvolutionBackwardDataWorkspaceSize);
  TRT_CUDNN_SYM(backward_filter_workspace_size, cudnnGetConvolutionBackwardFilterWorkspaceSize);
  TRT_CUDNN_SYM(convolution_forward, cudnnConvolutionForward);
  TRT_CUDNN_SYM(convolution_backward_data, cudnnConvolutionBackwardData);
  TRT_CUDNN_SYM(convolution_backward_filter, cudnnConvolutionBackwardFilter);
#undef TRT_CUDNN_SYM
  l.ok = ok;
}

// Never destroyed: kernels may run during static destruction of other objects.
CublasLibrary& cublas_library() {
  static CublasLibrary* l = new CublasLibrary;
  return *l;
}
CudnnLibrary& cudnn_library() {
  static CudnnLibrary* l = new CudnnLibrary;
  return *l;
}

}  // namespace

const CublasApi* cublas_api(const char** error) {
  CublasLibrary& l = cublas_library();
  std::call_once(l.once, [&] { load_cublas(l); });
  if (!l.ok) *error = l.error.c_str();
  return l.ok ? &l.api : nullptr;
}

const CudnnApi* cudnn_api(const char** error) {
  CudnnLibrary& l = cudnn_library();
  std::call_once(l.once, [&] { load_cudnn(l); });
  if (!l.ok) *error = l.error.c_str();
  return l.ok ? &l.api : nullptr;
}

// ---- settings and errors -----------------------------------------------------

namespace {
// -1 = not yet read from the environment.
std::atomic<int> g_tf32{-1};
}  // namespace

bool tf32_enabled() {
  int v = g_tf32.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("TRAINRT_CUDA_TF32");
    int from_env = env && std::strcmp(env, "1") == 0 ? 1 : 0;
    g_tf32.compare_exchange_strong(v, from_env, std::memory_order_relaxed);  // set_tf32 may have won
    v = g_tf32.load(std::memory_order_relaxed);
  }
  return v == 1;
}

void set_tf32(bool enabled) { g_tf32.store(enabled ? 1 : 0, std::memory_order_relaxed); }

trt_status use_device(const trt_kernel_args* a, const char* op, int device) {
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess) return TRT_OK;
  cudaGetLastError();
  return fail(a, TRT_ERR_INTERNAL, "%s: CUDA error: cannot use device %d: %s", op, device, cudaGetErrorString(e));
}

trt_status cublas_fail(const trt_kernel_args* a, const char* op, cublasStatus_t status) {
  const char* unused = nullptr;
  const CublasApi* api = cublas_api(&unused);
  return fail(a, status == CUBLAS_STATUS_ALLOC_FAILED ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL,
              "%s: cuBLAS error %s (%s)", op, api ? api->status_name(status) : "?",
              api ? api->status_string(status) : "cuBLAS not loaded");
}

trt_status cudnn_fail(const trt_kernel_args* a, const char* op, cudnnStatus_t status, const char* what) {
  const char* unused = nullptr;
  const CudnnApi* api = cudnn_api(&unused);
  bool oom = status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
             status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
  return fail(a, oom ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL, "%s: cuDNN error %s: %s", op,
              api ? api->error_string(status) : "?", what);
}

// ---- handles -------------------------------------------------------------------

struct CudnnEntry {
  std::mutex mutex;  // held by a CudnnCall, and by release_library_caches
  int device = 0;
  cudnnHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  cudaStream_t workspace_stream = nullptr;  // the stream the workspace was last used on
};

namespace {

// Handles are bound to the device current at creation and are not safe to use
// from two threads at once (the stream is handle state), so there is one per
// (device, host thread). Each device's queue has one thread, so in practice
// one per device.
using HandleKey = std::pair<int, std::thread::id>;

struct Registry {
  std::mutex mutex;
  std::map<HandleKey, cublasHandle_t> cublas;
  std::map<HandleKey, std::unique_ptr<CudnnEntry>> cudnn;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed, see the file comment
  return *r;
}

}  // namespace

trt_status cublas_handle(const trt_kernel_args* a, const char* op, int device, cudaStream_t stream,
                         const CublasApi** api_out, cublasHandle_t* handle_out) {
  const char* error = nullptr;
  const CublasApi* api = cublas_api(&error);
  if (!api) return fail(a, TRT_ERR_UNSUPPORTED, "%s: %s", op, error);
  cublasHandle_t handle = nullptr;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    HandleKey key{device, std::this_thread::get_id()};
    auto it = r.cublas.find(key);
    if (it == r.cublas.end()) {
      if (cublasStatus_t s = api->create(&handle); s != CUBLAS_STATUS_SUCCESS) return cublas_fail(a, op, s);
      r.cublas.emplace(key, handle);
    } else {
      handle = it->second;
    }
  }
  if (cublasStatus_t s = api->set_stream(handle, stream); s != CUBLAS_STATUS_SUCCESS) return cublas_fail(a, op, s);
  // DEFAULT_MATH never lowers float32 to TF32 (it keeps at least the requested precision).
  cublasMath_t math = tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  if (cublasStatus_t s = api->set_math_mode(handle, math); s != CUBLAS_STATUS_SUCCESS) return cublas_fail(a, op, s);
  *api_out = api;
  *handle_out = handle;
  return TRT_OK;
}

CudnnCall::~CudnnCall() {
  if (entry_) entry_->mutex.unlock();
}

trt_status CudnnCall::begin(const trt_kernel_args* a, const char* op, int device, cudaStream_t stream) {
  args_ = a;
  op_ = op;
  stream_ = stream;
  const char* error = nullptr;
  const CudnnApi* lib = cudnn_api(&error);
  if (!lib) return fail(a, TRT_ERR_UNSUPPORTED, "%s: %s", op, error);
  CudnnEntry* entry = nullptr;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    HandleKey key{device, std::this_thread::get_id()};
    auto it = r.cudnn.find(key);
    if (it == r.cudnn.end()) {
      cudnnHandle_t h = nullptr;
      if (cudnnStatus_t s = lib->create(&h); s != CUDNN_STATUS_SUCCESS)
        return cudnn_fail(a, op, s, "cudnnCreate failed (is a GPU driver installed?)");
      auto e = std::make_unique<CudnnEntry>();
      e->device = device;
      e->handle = h;
      entry = e.get();
      r.cudnn.emplace(key, std::move(e));
    } else {
      entry = it->second.get();
    }
  }
  // Only this thread uses the entry's handle; the lock guards the workspace
  // against release_library_caches from another thread.
  entry->mutex.lock();
  entry_ = entry;
  if (cudnnStatus_t s = lib->set_stream(entry->handle, stream); s != CUDNN_STATUS_SUCCESS)
    return cudnn_fail(a, op, s, "cudnnSetStream");
  api = lib;
  handle = entry->handle;
  return TRT_OK;
}

trt_status CudnnCall::workspace(size_t bytes, void** ptr) {
  *ptr = nullptr;
  if (bytes == 0) return TRT_OK;
  CudnnEntry& e = *entry_;
  if (e.workspace && e.workspace_bytes >= bytes && e.workspace_stream == stream_) {
    *ptr = e.workspace;
    return TRT_OK;
  }
  if (e.workspace) {
    // Ordered after every kernel already queued on its stream that reads it.
    cudaError_t err = cudaFreeAsync(e.workspace, e.workspace_stream);
    e.workspace = nullptr;
    e.workspace_bytes = 0;
    if (err != cudaSuccess) {
      cudaGetLastError();
      return fail(args_, TRT_ERR_INTERNAL, "%s: CUDA error freeing the cuDNN workspace: %s", op_,
                  cudaGetErrorString(err));
    }
  }
  constexpr size_t kGranule = size_t(1) << 20;  // grow in whole MiB: fewer regrowths across shapes
  size_t rounded = (bytes + kGranule - 1) / kGranule * kGranule;
  void* p = nullptr;
  cudaError_t err = cudaMallocAsync(&p, rounded, stream_);
  if (err != cudaSuccess) {
    cudaGetLastError();  // a failed allocation is not sticky; clear it for check_launch
    return fail(args_, err == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL,
                "%s: cannot allocate a %zu-byte cuDNN workspace: %s", op_, rounded, cudaGetErrorString(err));
  }
  e.workspace = p;
  e.workspace_bytes = rounded;
  e.workspace_stream = stream_;
  *ptr = p;
  return TRT_OK;
}

void release_library_caches(int device) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  int previous = -1;
  for (auto& [key, entry] : r.cudnn) {
    if (entry->device != device) continue;
    std::lock_guard<std::mutex> entry_lock(entry->mutex);
    if (!entry->workspace) continue;
    if (previous < 0 && cudaGetDevice(&previous) != cudaSuccess) previous = device;
    cudaSetDevice(device);
    // Stream-ordered; if the stream is gone (queue shut down), a plain free.
    if (cudaFreeAsync(entry->workspace, entry->workspace_stream) != cudaSuccess) {
      cudaGetLastError();
      cudaFree(entry->workspace);
    }
    cudaGetLastError();
    entry->workspace = nullptr;
    entry->workspace_bytes = 0;
    entry->workspace_stream = nullptr;
  }
  if (previous >= 0 && previous != device) cudaSetDevice(previous);
}

}  // namespace trt_cuda
