// Softmax family, negative log-likelihood and the dropout mask on the GPU.
// CUDA twin of ops-cpu/src/loss.cpp: softmax rows are reduced by one thread or
// one block (reduce_util.cuh), in double; nll_loss checks its labels first and
// synchronises the stream to report a bad one. Not here: class weights,
// ignore_index, label smoothing.
#include <cinttypes>
#include <cstdint>

#include "kernel_util.cuh"
#include "kernels.h"
#include "reduce_util.cuh"

namespace trt_cuda {
namespace {

enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

// ---- softmax / log_softmax ----

// x, y: (.., len, ..) any strides; outer walks the slices for x and y; sx, sy
// are their strides along dim. Stable: y = x - max - log(sum(exp(x - max))).
template <bool PerThread, bool Log, typename T>
__global__ void softmax_rows(StridedOffsets<2> outer, int64_t rows, int64_t len, int64_t sx, int64_t sy, const T* x,
                             T* y) {
  using Tile = RowTiling<PerThread>;
  for (int64_t j = Tile::first_row(); j < rows; j += Tile::row_step()) {
    const T* p = x + outer.offset(j, 0);
    T* q = y + outer.offset(j, 1);
    const double neg_inf = -INFINITY;
    double m = neg_inf;
    for (int64_t i = Tile::first(); i < len; i += Tile::step()) m = fmax(m, static_cast<double>(p[i * sx]));
    m = Tile::reduce(m, FmaxOp{}, neg_inf);
    double s = 0;
    for (int64_t i = Tile::first(); i < len; i += Tile::step()) s += exp(static_cast<double>(p[i * sx]) - m);
    s = Tile::reduce(s, SumOp{}, 0.0);
    if (Log) {
      double shift = m + log(s);
      for (int64_t i = Tile::first(); i < len; i += Tile::step())
        q[i * sy] = static_cast<T>(static_cast<double>(p[i * sx]) - shift);
    } else {
      for (int64_t i = Tile::first(); i < len; i += Tile::step())
        q[i * sy] = static_cast<T>(exp(static_cast<double>(p[i * sx]) - m) / s);
    }
  }
}

// log_softmax / softmax: inputs [x], outputs [y] (x's shape), int_attrs [dim].
template <bool Log> trt_status softmax_launch(const trt_kernel_args* a, const char* op) {
  const trt_tensor_view& x = a->inputs[0];
  const trt_tensor_view& y = a->outputs[0];
  int dim = static_cast<int>(a->int_attrs[0]);
  const trt_tensor_view* views[2] = {&x, &y};
  int64_t rows = 0, len = length_along(x, dim);
  StridedOffsets<2> outer = slices_along(views, dim, &rows);
  if (rows == 0 || len == 0) return TRT_OK;
  int64_t sx = stride_along(x, dim), sy = stride_along(y, dim);
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_FLOAT(a, y.dtype, launch_rows(rows, len, [&](auto per_thread, unsigned grid) {
    softmax_rows<decltype(per_thread)::value, Log, scalar_t><<<grid, kBlock, 0, stream>>>(
        outer, rows, len, sx, sy, data<scalar_t>(x), data<scalar_t>(y));
  }));
  return check_launch(a, op);
}

trt_status log_softmax_kernel(const trt_kernel_args* a) { return softmax_launch<true>(a, "log_softmax"); }
trt_status softmax_kernel(const trt_kernel_args* a) { return softmax_launch<false>(a, "softmax"); }

// dx, dy, y: (.., len, ..) any strides; outer walks the slices for dx, dy, y.
//   log_softmax: dx = dy - exp(y) * sum(dy)        softmax: dx = y * (dy - sum(dy * y))
// The product dy * y is rounded on its own (__dmul_rn), as on the CPU.
template <bool PerThread, bool Log, typename T>
__global__ void softmax_backward_rows(StridedOffsets<3> outer, int64_t rows, int64_t len, int64_t sd, int64_t sg,
                                      int64_t sy, T* dx, const T* dy, const T* y) {
  using Tile = RowTiling<PerThread>;
  for (int64_t j = Tile::first_row(); j < rows; j += Tile::row_step()) {
    T* d = dx + outer.offset(j, 0);
    const T* g = dy + outer.offset(j, 1);
    const T* ys = y + outer.offset(j, 2);
    double s = 0;
    for (int64_t i = Tile::first(); i < len; i += Tile::step())
      s += Log ? static_cast<double>(g[i * sg])
               : __dmul_rn(static_cast<double>(g[i * sg]), static_cast<double>(ys[i * sy]));
    T sum = static_cast<T>(Tile::reduce(s, SumOp{}, 0.0));
    for (int64_t i = Tile::first(); i < len; i += Tile::step())
      d[i * sd] = Log ? trainrt::math::log_softmax_backward(g[i * sg], ys[i * sy], sum)
                      : trainrt::math::softmax_backward(g[i * sg], ys[i * sy], sum);
  }
}

// log_softmax_backward / softmax_backward: inputs [dy, y], outputs [dx], int_attrs [dim].
template <bool Log> trt_status softmax_backward_launch(const trt_kernel_args* a, const char* op) {
  const trt_tensor_view& dx = a->outputs[0];
  const trt_tensor_view& dy = a->inputs[0];
  const trt_tensor_view& y = a->inputs[1];
  int dim = static_cast<int>(a->int_attrs[0]);
  const trt_tensor_view* views[3] = {&dx, &dy, &y};
  int64_t rows = 0, len = length_along(dx, dim);
  StridedOffsets<3> outer = slices_along(views, dim, &rows);
  if (rows == 0 || len == 0) return TRT_OK;
  int64_t sd = stride_along(dx, dim), sg = stride_along(dy, dim), sy = stride_along(y, dim);
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_FLOAT(a, dx.dtype, launch_rows(rows, len, [&](auto per_thread, unsigned grid) {
    softmax_backward_rows<decltype(per_thread)::value, Log, scalar_t><<<grid, kBlock, 0, stream>>>(
        outer, rows, len, sd, sg, sy, data<scalar_t>(dx), data<scalar_t>(dy), data<scalar_t>(y));
  }));
  return check_launch(a, op);
}

trt_status log_softmax_backward_kernel(const trt_kernel_args* a) {
  return softmax_backward_launch<true>(a, "log_softmax_backward");
}
trt_status softmax_backward_kernel(const trt_kernel_args* a) { return softmax_backward_launch<false>(a, "softmax_backward"); }

// ---- labels ----

// target: (n) int64 with stride `stride`; records each label outside [0, classes).
__global__ void find_bad_labels(int64_t n, int64_t stride, const int64_t* target, int64_t classes,
                                unsigned long long* first_bad) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    int64_t label = target[i * stride];
    if (label < 0 || label >= classes) record_hit(first_bad, i);
  }
}

// Fails like the CPU with the first label outside [0, classes):
//   "nll_loss: label 12 at index 3 out of range [0, 10)"
// A kernel cannot fail, so it records bad indices in a device word (FirstHit)
// and this function synchronises the stream to read it (and, on failure, the
// label): the device queue's host thread waits, the script does not. It runs
// before the loss kernels, so a failed call writes no output.
trt_status check_labels(const trt_kernel_args* a, const trt_tensor_view& target, int64_t classes) {
  int64_t n = target.sizes[0];
  if (n == 0) return TRT_OK;
  const char* op = "nll_loss";
  cudaStream_t stream = stream_of(a);
  FirstHit bad;
  if (trt_status st = bad.init(a, op); st != TRT_OK) return st;
  const int64_t* t = data<int64_t>(target);
  find_bad_labels<<<blocks_for(n), kBlock, 0, stream>>>(n, target.strides[0], t, classes, bad.slot());
  if (trt_status st = check_launch(a, op); st != TRT_OK) return st;
  unsigned long long first = FirstHit::kNone;
  if (trt_status st = bad.read(a, op, &first); st != TRT_OK) return st;
  if (first == FirstHit::kNone) return TRT_OK;
  int64_t i = static_cast<int64_t>(first), label = 0;
  cudaError_t e = cudaMemcpyAsync(&label, t + i * target.strides[0], sizeof(label), cudaMemcpyDeviceToHost, stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  if (e != cudaSuccess) return check_launch(a, op);
  return fail(a, TRT_ERR_INVALID_ARGUMENT, "nll_loss: label %" PRId64 " at index %" PRId64 " out of range [0, %" PRId64 ")",
              label, i, classes);
}

// ---- nll_loss ----

// Strides of logp (N, C) and target (N), as one kernel argument.
struct NllStrides {
  int64_t row, col, target;
};

// loss: (n) with stride `ls`. loss_i = -logp[i, target_i]
template <typename T>
__global__ void nll_each(int64_t n, NllStrides s, const T* logp, const int64_t* target, T* loss, int64_t ls) {
  TRT_CUDA_GRID_STRIDE(i, n) loss[i * ls] = static_cast<T>(-static_cast<double>(logp[i * s.row + target[i * s.target] * s.col]));
}

// loss: (), one block. loss = sum_i -logp[i, target_i], divided by n for mean (n = 0 gives NaN).
template <typename T>
__global__ void nll_total(int64_t n, NllStrides s, const T* logp, const int64_t* target, T* loss, bool mean) {
  double total = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) total += -static_cast<double>(logp[i * s.row + target[i * s.target] * s.col]);
  total = block_reduce(total, SumOp{}, 0.0);
  if (threadIdx.x == 0) loss[0] = static_cast<T>(mean ? total / static_cast<double>(n) : total);
}

// nll_loss: inputs [logp (N, C), target int64 (N)], outputs [loss: (N) for none,
// () for mean/sum], int_attrs [reduction 0=none, 1=mean, 2=sum].
trt_status nll_loss_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& logp = a->inputs[0];
  const trt_tensor_view& target = a->inputs[1];
  const trt_tensor_view& loss = a->outputs[0];
  int64_t reduction = a->int_attrs[0], n = logp.sizes[0];
  if (trt_status st = check_labels(a, target, logp.sizes[1]); st != TRT_OK) return st;
  NllStrides s{logp.strides[0], logp.strides[1], target.strides[0]};
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_FLOAT(a, logp.dtype, {
    const scalar_t* lp = data<scalar_t>(logp);
    if (reduction == kNone) {
      if (n > 0)
        nll_each<<<blocks_for(n), kBlock, 0, stream>>>(n, s, lp, data<int64_t>(target), data<scalar_t>(loss),
                                                       loss.strides[0]);
    } else {
      nll_total<<<1, kBlock, 0, stream>>>(n, s, lp, data<int64_t>(target), data<scalar_t>(loss), reduction == kMean);
    }
  });
  return check_launch(a, "nll_loss");
}

// dx: (n, C), zeroed. forward: loss_i = -logp[i, t_i]  =>  dlogp[i, t_i] = -dy_i
// (none: dy (n) with stride gs; mean: -dy / N, sum: -dy with dy () and gs = 0).
template <typename T>
__global__ void nll_scatter(int64_t n, NllStrides s, const T* dy, int64_t gs, T scale, const int64_t* target, T* dx) {
  TRT_CUDA_GRID_STRIDE(i, n) dx[i * s.row + target[i * s.target] * s.col] = -(dy[i * gs] * scale);
}

// nll_loss_backward: inputs [dy ((N) or ()), target int64 (N)], outputs [dlogp (N, C)],
// int_attrs [reduction]. Validates labels like nll_loss.
trt_status nll_loss_backward_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& dy = a->inputs[0];
  const trt_tensor_view& target = a->inputs[1];
  const trt_tensor_view& dx = a->outputs[0];
  int64_t reduction = a->int_attrs[0], n = dx.sizes[0];
  if (trt_status st = check_labels(a, target, dx.sizes[1]); st != TRT_OK) return st;
  NllStrides s{dx.strides[0], dx.strides[1], target.strides[0]};
  int64_t gs = reduction == kNone ? dy.strides[0] : 0;
  cudaStream_t stream = stream_of(a);
  TRT_CUDA_DISPATCH_FLOAT(a, dx.dtype, {
    // As the CPU: g * scale with scale = 1 / N in T for mean (g * 1 is exact for none and sum).
    scalar_t scale = reduction == kMean ? scalar_t(1) / static_cast<scalar_t>(n) : scalar_t(1);
    zero_fill<scalar_t>(dx, stream);
    if (n > 0 && numel(dx) > 0)
      nll_scatter<<<blocks_for(n), kBlock, 0, stream>>>(n, s, data<scalar_t>(dy), gs, scale, data<int64_t>(target),
                                                        data<scalar_t>(dx));
  });
  return check_launch(a, "nll_loss_backward");
}

// ---- dropout_mask ----

// mask: (shape), any strides. Element i (row-major) draws u = uniform01(seed, offset + i);
// mask = (u >= p) / (1 - p).
template <typename T>
__global__ void dropout_values(StridedOffsets<1> s, int64_t n, T* mask, uint64_t seed, uint64_t offset, double p) {
  TRT_CUDA_GRID_STRIDE(i, n) {
    double u = trainrt::math::uniform01(seed, offset + static_cast<uint64_t>(i));
    mask[s.offset(i, 0)] = static_cast<T>(trainrt::math::dropout_mask(u, p));
  }
}

// dropout_mask: outputs [mask] (floating), int_attrs [seed, offset], float_attrs [p].
trt_status dropout_mask_kernel(const trt_kernel_args* a) {
  const trt_tensor_view& mask = a->outputs[0];
  uint64_t seed = static_cast<uint64_t>(a->int_attrs[0]), offset = static_cast<uint64_t>(a->int_attrs[1]);
  double p = a->float_attrs[0];
  if (!(p >= 0 && p <= 1)) return fail(a, TRT_ERR_INVALID_ARGUMENT, "dropout_mask: p must be in [0, 1], got %g", p);
  int64_t n = numel(mask);
  if (n == 0) return TRT_OK;
  const trt_tensor_view* ops[1] = {&mask};
  StridedOffsets<1> s = coalesce(strided_offsets(mask, ops));
  TRT_CUDA_DISPATCH_FLOAT(a, mask.dtype, dropout_values<scalar_t><<<blocks_for(n), kBlock, 0, stream_of(a)>>>(
                                             s, n, data<scalar_t>(mask), seed, offset, p));
  return check_launch(a, "dropout_mask");
}

}  // namespace

bool register_loss(const trt_host_api* host) {
  struct {
    const char* op;
    trt_kernel_fn fn;
  } table[] = {{"log_softmax", log_softmax_kernel},
               {"log_softmax_backward", log_softmax_backward_kernel},
               {"softmax", softmax_kernel},
               {"softmax_backward", softmax_backward_kernel},
               {"nll_loss", nll_loss_kernel},
               {"nll_loss_backward", nll_loss_backward_kernel},
               {"dropout_mask", dropout_mask_kernel}};
  for (const auto& k : table)
    if (!add_kernel(host, k.op, k.fn)) return false;
  return true;
}

}  // namespace trt_cuda
