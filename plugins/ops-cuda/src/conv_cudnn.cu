// Convolution kernels through cuDNN 9's legacy API (cudnnConvolutionForward,
// cudnnConvolutionBackwardData, cudnnConvolutionBackwardFilter; libcudnn.so.9
// opened lazily by cuda_libs.cpp). Twin of ops-cpu/src/conv_pool.cpp (the
// conv2d part; pooling is pool2d.cu): contiguous NCHW, OIHW weights, groups.
// Algorithms: cuDNN's heuristics (the _v7 queries), ranked and cached per
// shape; the first one whose workspace can be allocated and that cuDNN accepts
// runs. The optional bias is added by a small kernel after the convolution.
// Deliberately not here: benchmarking algorithms (cudnnFind*), NHWC, half types.
#include <cuda_runtime.h>

#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <vector>

#include "cuda_libs.h"
#include "kernel_util.cuh"
#include "kernels.h"

namespace trt_cuda {
namespace {

enum class ConvKind { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

struct ConvGeom {
  int64_t N, C, H, W;    // x: (N, C, H, W)
  int64_t O, kh, kw;     // w: (O, C/G, kH, kW)
  int64_t OH, OW;        // y: (N, O, OH, OW)
  int64_t sh, sw, ph, pw, dh, dw, G;
};

ConvGeom geom(const trt_kernel_args* a, const trt_tensor_view& x, const trt_tensor_view& w, const trt_tensor_view& y) {
  const int64_t* at = a->int_attrs;
  return ConvGeom{x.sizes[0], x.sizes[1], x.sizes[2], x.sizes[3], w.sizes[0], w.sizes[2], w.sizes[3], y.sizes[2],
                  y.sizes[3], at[0], at[1], at[2], at[3], at[4], at[5], at[6]};
}

// One algorithm to try: cuDNN's enum value, the math type it runs with, and its workspace.
struct AlgoChoice {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
};

// The descriptors of one call: x (N, C, H, W), y (N, O, OH, OW), w (O, C/G, kH, kW).
struct ConvDescriptors {
  const CudnnApi* api = nullptr;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  explicit ConvDescriptors(const CudnnApi* lib) : api(lib) {}
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;
  ~ConvDescriptors() {
    if (x) api->destroy_tensor_desc(x);
    if (y) api->destroy_tensor_desc(y);
    if (w) api->destroy_filter_desc(w);
    if (conv) api->destroy_conv_desc(conv);
  }

  // Returns the first failing status, naming the call in *what.
  cudnnStatus_t init(const ConvGeom& g, cudnnDataType_t dtype, cudnnMathType_t math, const char** what) {
    cudnnStatus_t s;
    auto failed = [&](cudnnStatus_t st, const char* call) {
      *what = call;
      return st != CUDNN_STATUS_SUCCESS;
    };
    if (failed(s = api->create_tensor_desc(&x), "cudnnCreateTensorDescriptor")) return s;
    if (failed(s = api->create_tensor_desc(&y), "cudnnCreateTensorDescriptor")) return s;
    if (failed(s = api->create_filter_desc(&w), "cudnnCreateFilterDescriptor")) return s;
    if (failed(s = api->create_conv_desc(&conv), "cudnnCreateConvolutionDescriptor")) return s;
    if (failed(s = api->set_tensor_4d(x, CUDNN_TENSOR_NCHW, dtype, int(g.N), int(g.C), int(g.H), int(g.W)),
               "cudnnSetTensor4dDescriptor (x)"))
      return s;
    if (failed(s = api->set_tensor_4d(y, CUDNN_TENSOR_NCHW, dtype, int(g.N), int(g.O), int(g.OH), int(g.OW)),
               "cudnnSetTensor4dDescriptor (y)"))
      return s;
    if (failed(s = api->set_filter_4d(w, dtype, CUDNN_TENSOR_NCHW, int(g.O), int(g.C / g.G), int(g.kh), int(g.kw)),
               "cudnnSetFilter4dDescriptor"))
      return s;
    if (failed(s = api->set_conv_2d(conv, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh), int(g.dw),
                                    CUDNN_CROSS_CORRELATION, dtype),
               "cudnnSetConvolution2dDescriptor"))
      return s;
    if (failed(s = api->set_conv_groups(conv, int(g.G)), "cudnnSetConvolutionGroupCount")) return s;
    if (failed(s = api->set_conv_math(conv, math), "cudnnSetConvolutionMathType")) return s;
    return CUDNN_STATUS_SUCCESS;
  }
};

// Math types. float32 without TF32 is CUDNN_FMA_MATH, not DEFAULT: on Ampere
// and newer, DEFAULT lets cuDNN pick TF32 tensor-core kernels for float data.
// With TF32 on, DEFAULT (TF32 allowed). Never *_ALLOW_CONVERSION (down-converts
// to half precision).
cudnnMathType_t descriptor_math(cudnnDataType_t dtype, bool tf32) {
  return dtype == CUDNN_DATA_FLOAT && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}
bool math_allowed(cudnnMathType_t m, cudnnDataType_t dtype, bool tf32) {
  if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  if (dtype == CUDNN_DATA_FLOAT && !tf32) return m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH;
  return true;
}

// Ranked algorithms per (kind, dtype, TF32, device, shape), shared by all threads.
using AlgoKey = std::array<int64_t, 20>;

struct AlgoCache {
  std::mutex mutex;
  std::map<AlgoKey, std::vector<AlgoChoice>> entries;
};
AlgoCache& algo_cache() {
  static AlgoCache* c = new AlgoCache;  // never destroyed (kernels may outlive static destruction order)
  return *c;
}

AlgoKey algo_key(ConvKind kind, cudnnDataType_t dtype, bool tf32, int device, const ConvGeom& g) {
  return {int64_t(kind), int64_t(dtype), tf32 ? 1 : 0, device, g.N, g.C, g.H, g.W, g.O, g.kh,
          g.kw,          g.OH,           g.OW,          g.sh,  g.sw, g.ph, g.pw, g.dh, g.dw, g.G};
}

// Queries cuDNN's heuristics for `kind` and the workspace of each usable result,
// in cuDNN's order. Leaves the descriptor's math type at `base_math`.
cudnnStatus_t rank_algorithms(const CudnnApi* api, cudnnHandle_t h, ConvDescriptors& d, ConvKind kind,
                              cudnnDataType_t dtype, bool tf32, std::vector<AlgoChoice>* out, const char** what) {
  cudnnMathType_t base_math = descriptor_math(dtype, tf32);
  // The three perf structs differ in type only; keep what ranking needs from each.
  struct Candidate {
    int algo;
    cudnnStatus_t status;
    cudnnMathType_t math;
  };
  std::vector<Candidate> candidates;
  int returned = 0;
  cudnnStatus_t s = CUDNN_STATUS_SUCCESS;
  if (kind == ConvKind::kForward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    s = api->forward_algorithms(h, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < returned; ++i)
      candidates.push_back({int(perf[i].algo), perf[i].status, perf[i].mathType});
    *what = "cudnnGetConvolutionForwardAlgorithm_v7";
  } else if (kind == ConvKind::kBackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    s = api->backward_data_algorithms(h, d.w, d.y, d.conv, d.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                      perf);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < returned; ++i)
      candidates.push_back({int(perf[i].algo), perf[i].status, perf[i].mathType});
    *what = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    s = api->backward_filter_algorithms(h, d.x, d.y, d.conv, d.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                        perf);
    for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < returned; ++i)
      candidates.push_back({int(perf[i].algo), perf[i].status, perf[i].mathType});
    *what = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
  }
  if (s != CUDNN_STATUS_SUCCESS) return s;
  // Nothing usable from the heuristics: algorithm 0 (implicit GEMM / ALGO_0), which supports every shape.
  candidates.push_back({0, CUDNN_STATUS_SUCCESS, base_math});

  for (const Candidate& c : candidates) {
    if (c.status != CUDNN_STATUS_SUCCESS || !math_allowed(c.math, dtype, tf32)) continue;
    // Without TF32, float32 keeps FMA even where the heuristics said DEFAULT.
    cudnnMathType_t math = dtype == CUDNN_DATA_FLOAT && !tf32 ? CUDNN_FMA_MATH : c.math;
    bool seen = false;
    for (const AlgoChoice& prev : *out) seen |= prev.algo == c.algo && prev.math == math;
    if (seen) continue;
    if (api->set_conv_math(d.conv, math) != CUDNN_STATUS_SUCCESS) continue;
    size_t bytes = 0;
    cudnnStatus_t ws;
    if (kind == ConvKind::kForward)
      ws = api->forward_workspace_size(h, d.x, d.w, d.conv, d.y, cudnnConvolutionFwdAlgo_t(c.algo), &bytes);
    else if (kind == ConvKind::kBackwardData)
      ws = api->backward_data_workspace_size(h, d.w, d.y, d.conv, d.x, cudnnConvolutionBwdDataAlgo_t(c.algo), &bytes);
    else
      ws = api->backward_filter_workspace_size(h, d.x, d.y, d.conv, d.w, cudnnConvolutionBwdFilterAlgo_t(c.algo),
                                               &bytes);
    if (ws == CUDNN_STATUS_SUCCESS) out->push_back({c.algo, math, bytes});
  }
  *what = "cudnnSetConvolutionMathType";
  return api->set_conv_math(d.conv, base_math);
}

// y[n, o, :, :] += bias[o]
template <typename T>
__global__ void add_bias_kernel(T* y, const T* bias, int64_t bias_stride, int64_t O, int64_t plane, int64_t n) {
  TRT_CUDA_GRID_STRIDE(i, n) y[i] += bias[((i / plane) % O) * bias_stride];
}

bool fits_int(const trt_tensor_view& v) {
  for (int d = 0; d < v.ndim; ++d)
    if (v.sizes[d] > INT_MAX) return false;
  return numel(v) <= INT_MAX;
}

trt_status zero(const trt_kernel_args* a, const char* op, const trt_tensor_view& t, size_t elem) {
  if (cudaMemsetAsync(t.data, 0, elem * static_cast<size_t>(numel(t)), stream_of(a)) != cudaSuccess)
    return check_launch(a, op);
  return TRT_OK;
}

// Runs one convolution of `kind`. Roles: x = input image (N, C, H, W), w =
// weights, y = output-side tensor (N, O, OH, OW); the output is y (forward),
// x (backward data) or w (backward filter). Overwrites the output (beta = 0).
template <typename T>
trt_status run_conv(const trt_kernel_args* a, const char* op, ConvKind kind, const ConvGeom& g, const void* x,
                    const void* w, const void* y, void* out, const trt_tensor_view& out_view) {
  constexpr cudnnDataType_t dtype = sizeof(T) == 4 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  int device = out_view.device_index;
  cudaStream_t stream = stream_of(a);
  if (trt_status s = use_device(a, op, device); s != TRT_OK) return s;
  CudnnCall call;
  if (trt_status s = call.begin(a, op, device, stream); s != TRT_OK) return s;
  const CudnnApi* api = call.api;
  bool tf32 = tf32_enabled();
  ConvDescriptors d(api);
  const char* what = "";
  if (cudnnStatus_t s = d.init(g, dtype, descriptor_math(dtype, tf32), &what); s != CUDNN_STATUS_SUCCESS)
    return cudnn_fail(a, op, s, what);

  std::vector<AlgoChoice> choices;
  AlgoKey key = algo_key(kind, dtype, tf32, device, g);
  {
    AlgoCache& cache = algo_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.entries.find(key);
    if (it != cache.entries.end()) choices = it->second;
  }
  if (choices.empty()) {
    if (cudnnStatus_t s = rank_algorithms(api, call.handle, d, kind, dtype, tf32, &choices, &what);
        s != CUDNN_STATUS_SUCCESS)
      return cudnn_fail(a, op, s, what);
    if (choices.empty()) return fail(a, TRT_ERR_UNSUPPORTED, "%s: cuDNN offers no algorithm for this shape", op);
    AlgoCache& cache = algo_cache();
    std::lock_guard<std::mutex> lock(cache.mutex);
    cache.entries.emplace(key, choices);
  }

  const T alpha = T(1), beta = T(0);
  trt_status last = TRT_ERR_UNSUPPORTED;
  cudnnStatus_t last_cudnn = CUDNN_STATUS_NOT_SUPPORTED;
  for (const AlgoChoice& c : choices) {
    void* ws = nullptr;
    last = call.workspace(c.workspace, &ws);
    if (last == TRT_ERR_OUT_OF_MEMORY) continue;  // an algorithm that needs less may follow
    if (last != TRT_OK) return last;
    if (cudnnStatus_t s = api->set_conv_math(d.conv, c.math); s != CUDNN_STATUS_SUCCESS)
      return cudnn_fail(a, op, s, "cudnnSetConvolutionMathType");
    cudnnStatus_t s;
    if (kind == ConvKind::kForward) {
      s = api->convolution_forward(call.handle, &alpha, d.x, x, d.w, w, d.conv, cudnnConvolutionFwdAlgo_t(c.algo), ws,
                                   c.workspace, &beta, d.y, out);
      what = "cudnnConvolutionForward";
    } else if (kind == ConvKind::kBackwardData) {
      s = api->convolution_backward_data(call.handle, &alpha, d.w, w, d.y, y, d.conv,
                                         cudnnConvolutionBwdDataAlgo_t(c.algo), ws, c.workspace, &beta, d.x, out);
      what = "cudnnConvolutionBackwardData";
    } else {
      s = api->convolution_backward_filter(call.handle, &alpha, d.x, x, d.y, y, d.conv,
                                           cudnnConvolutionBwdFilterAlgo_t(c.algo), ws, c.workspace, &beta, d.w, out);
      what = "cudnnConvolutionBackwardFilter";
    }
    if (s == CUDNN_STATUS_SUCCESS) return check_launch(a, op);
    last_cudnn = s;
    last = TRT_ERR_INTERNAL;
    if (CUDNN_STATUS_CATEGORY(s) != CUDNN_STATUS_NOT_SUPPORTED) break;  // a real error, not "try another"
  }
  if (last == TRT_ERR_OUT_OF_MEMORY) return last;  // message written by workspace()
  return cudnn_fail(a, op, last_cudnn, what);
}

trt_status check_args(const trt_kernel_args* a, const char* op, int min_in, int max_in) {
  if (a->n_inputs < min_in || a->n_inputs > max_in || a->n_outputs != 1 || a->n_int_attrs < 7)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: wrong number of inputs, outputs or int_attrs (see docs/ops.md)", op);
  for (int i = 0; i < a->n_inputs; ++i)
    if (!is_contiguous(a->inputs[i]) || !fits_int(a->inputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: tensors must be contiguous and under 2^31 elements", op);
  if (!is_contiguous(a->outputs[0]) || !fits_int(a->outputs[0]))
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: tensors must be contiguous and under 2^31 elements", op);
  for (int i = 0; i < 2; ++i)
    if (a->inputs[i].ndim != 4)
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: inputs must be 4-D (NCHW, OIHW)", op);
  if (a->outputs[0].ndim != 4) return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: output must be 4-D", op);
  if (a->int_attrs[6] < 1) return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: groups must be >= 1", op);
  for (int i = 0; i < 6; ++i)
    if (a->int_attrs[i] > INT_MAX) return fail(a, TRT_ERR_INVALID_ARGUMENT, "%s: attribute %d too large", op, i);
  return TRT_OK;
}

// forward: y = conv(x, w) + bias
template <typename T> trt_status conv2d_typed(const trt_kernel_args* a) {
  const trt_tensor_view &x = a->inputs[0], &w = a->inputs[1], &y = a->outputs[0];
  ConvGeom g = geom(a, x, w, y);
  if (numel(y) == 0) return TRT_OK;
  if (numel(x) == 0 || numel(w) == 0) {  // an empty sum: y = bias (or 0)
    if (trt_status s = use_device(a, "conv2d", y.device_index); s != TRT_OK) return s;
    if (trt_status s = zero(a, "conv2d", y, sizeof(T)); s != TRT_OK) return s;
  } else if (trt_status s = run_conv<T>(a, "conv2d", ConvKind::kForward, g, x.data, w.data, nullptr, y.data, y);
             s != TRT_OK) {
    return s;
  }
  if (a->n_inputs > 2) {
    const trt_tensor_view& bias = a->inputs[2];  // (O)
    int64_t n = numel(y);
    add_bias_kernel<T><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(data<T>(y), data<const T>(bias), bias.strides[0],
                                                                    g.O, g.OH * g.OW, n);
    return check_launch(a, "conv2d");
  }
  return TRT_OK;
}

// forward: y = conv(x, w)  =>  dx = conv_transpose(dy, w)
template <typename T> trt_status conv2d_backward_input_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &w = a->inputs[1], &dx = a->outputs[0];
  ConvGeom g = geom(a, dx, w, dy);
  if (numel(dx) == 0) return TRT_OK;
  if (numel(dy) == 0 || numel(w) == 0) {
    if (trt_status s = use_device(a, "conv2d_backward_input", dx.device_index); s != TRT_OK) return s;
    return zero(a, "conv2d_backward_input", dx, sizeof(T));
  }
  return run_conv<T>(a, "conv2d_backward_input", ConvKind::kBackwardData, g, nullptr, w.data, dy.data, dx.data, dx);
}

// forward: y = conv(x, w)  =>  dw = sum_n dy * x (correlation over the batch)
template <typename T> trt_status conv2d_backward_weight_typed(const trt_kernel_args* a) {
  const trt_tensor_view &dy = a->inputs[0], &x = a->inputs[1], &dw = a->outputs[0];
  ConvGeom g = geom(a, x, dw, dy);
  if (numel(dw) == 0) return TRT_OK;
  if (numel(dy) == 0 || numel(x) == 0) {
    if (trt_status s = use_device(a, "conv2d_backward_weight", dw.device_index); s != TRT_OK) return s;
    return zero(a, "conv2d_backward_weight", dw, sizeof(T));
  }
  return run_conv<T>(a, "conv2d_backward_weight", ConvKind::kBackwardFilter, g, x.data, nullptr, dy.data, dw.data, dw);
}

// conv2d: inputs [x (N, C, H, W), w (O, C/G, kH, kW), (bias (O))], outputs [y (N, O, OH, OW)],
// int_attrs [sh, sw, ph, pw, dh, dw, groups]
trt_status conv2d_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d", 2, 3); s != TRT_OK) return s;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_typed<scalar_t>(a));
  return TRT_OK;
}

// conv2d_backward_input: inputs [dy (N, O, OH, OW), w], outputs [dx (N, C, H, W)], int_attrs as conv2d
trt_status conv2d_backward_input_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d_backward_input", 2, 2); s != TRT_OK) return s;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_backward_input_typed<scalar_t>(a));
  return TRT_OK;
}

// conv2d_backward_weight: inputs [dy (N, O, OH, OW), x (N, C, H, W)], outputs [dw (O, C/G, kH, kW)], int_attrs as conv2d
trt_status conv2d_backward_weight_kernel(const trt_kernel_args* a) {
  if (trt_status s = check_args(a, "conv2d_backward_weight", 2, 2); s != TRT_OK) return s;
  TRT_CUDA_DISPATCH_FLOAT(a, a->inputs[0].dtype, return conv2d_backward_weight_typed<scalar_t>(a));
  return TRT_OK;
}

}  // namespace

bool register_conv(const trt_host_api* host) {
  return add_kernel(host, "conv2d", conv2d_kernel) &&
         add_kernel(host, "conv2d_backward_input", conv2d_backward_input_kernel) &&
         add_kernel(host, "conv2d_backward_weight", conv2d_backward_weight_kernel);
}

}  // namespace trt_cuda
