// Shared by the CUDA kernels that reduce or walk rows: block-wide reductions,
// the "one thread or one block per row" tiling of row kernels (sum, max_dim,
// softmax), slices along a dim, dim coalescing for StridedOffsets, zeroed
// gradients, and FirstHit, the device word through which a kernel reports the
// first bad element (div by zero, a label out of range) back to the host.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kernel_util.cuh"

namespace trt_cuda {

// ---- block reductions (blockDim.x a multiple of 32, at most 1024) ----

// One warp shuffle; a kernel's own struct types overload it (found by ADL).
template <typename T> __device__ T shfl_down(T v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
__device__ inline uint8_t shfl_down(uint8_t v, int offset) {
  return static_cast<uint8_t>(__shfl_down_sync(0xffffffffu, static_cast<unsigned>(v), offset));
}

// Lane 0 gets op over the warp's 32 values.
template <typename T, typename Op> __device__ T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_down(v, o));
  return v;
}

// Reduces one value per thread over the block; every thread gets the result.
// Call from all threads of the block (it synchronises); `identity` fills the
// lanes of missing warps. T must be trivially constructible (shared memory).
template <typename T, typename Op> __device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T warp_results[32];
  __shared__ T result;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // an earlier call may still read warp_results / result
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_reduce(lane < warps ? warp_results[lane] : identity, op);
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

struct SumOp {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
// Maximum that ignores NaN (std::fmax), as the CPU softmax's running max.
struct FmaxOp {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

// ---- row kernels ----
// A row kernel works on `rows` independent rows of `len` elements. Short rows
// get one thread each (PerThread; grid blocks_for(rows)); long rows one block
// each, whose threads stride through the row and combine with block_reduce.
// Both loop over rows, so any row count fits the grid.
constexpr int64_t kThreadRowMax = 32;  // rows up to this long: one thread per row

template <bool PerThread> struct RowTiling {
  __device__ static int64_t first_row() { return PerThread ? blockIdx.x * int64_t(blockDim.x) + threadIdx.x : blockIdx.x; }
  __device__ static int64_t row_step() { return PerThread ? int64_t(blockDim.x) * gridDim.x : gridDim.x; }
  __device__ static int64_t first() { return PerThread ? 0 : threadIdx.x; }  // this thread's first element of a row
  __device__ static int64_t step() { return PerThread ? 1 : blockDim.x; }
  template <typename T, typename Op> __device__ static T reduce(T v, Op op, T identity) {
    if constexpr (PerThread) return v;
    else return block_reduce(v, op, identity);
  }
  __device__ static bool leader() { return PerThread || threadIdx.x == 0; }  // writes the row's result
};

// Calls launch(std::bool_constant<PerThread>{}, grid) with the tiling for rows
// of length len; launch starts kernel<PerThread, ...><<<grid, kBlock, 0, stream>>>.
template <typename Launch> void launch_rows(int64_t rows, int64_t len, Launch launch) {
  if (len <= kThreadRowMax) launch(std::true_type{}, blocks_for(rows));
  else launch(std::false_type{}, static_cast<unsigned>(rows < 65535 * 8 ? rows : 65535 * 8));
}

// Merges adjacent dims that every operand steps through as one and drops
// size-1 dims, so offset() does fewer divisions (a contiguous block becomes 1 dim).
template <int K> StridedOffsets<K> coalesce(const StridedOffsets<K>& in) {
  StridedOffsets<K> out;
  for (int d = 0; d < in.nd; ++d) {
    if (in.sizes[d] == 1) continue;
    bool merge = out.nd > 0;
    for (int k = 0; k < K && merge; ++k)
      merge = out.strides[k][out.nd - 1] == in.strides[k][d] * in.sizes[d];
    if (merge) {
      out.sizes[out.nd - 1] *= in.sizes[d];
      for (int k = 0; k < K; ++k) out.strides[k][out.nd - 1] = in.strides[k][d];
      continue;
    }
    out.sizes[out.nd] = in.sizes[d];
    for (int k = 0; k < K; ++k) out.strides[k][out.nd] = in.strides[k][d];
    ++out.nd;
  }
  return out;
}

// Kernels along one dim (softmax, max_dim) see "slices": for every position of
// the other dims, the `len` elements along dim. Operands share views[0]'s
// shape except that some may have size 1 along dim (keepdim outputs). Returns
// each operand's offset of slice j's first element, and the slice count.
template <int K> StridedOffsets<K> slices_along(const trt_tensor_view* const (&views)[K], int dim, int64_t* rows) {
  trt_tensor_view shape = *views[0];
  if (shape.ndim > 0) shape.sizes[dim] = 1;
  *rows = numel(shape);
  return coalesce(strided_offsets(shape, views));
}

inline int64_t length_along(const trt_tensor_view& v, int dim) { return v.ndim ? v.sizes[dim] : 1; }
inline int64_t stride_along(const trt_tensor_view& v, int dim) { return v.ndim ? v.strides[dim] : 0; }

// ---- zeroed gradients ----
// The backward kernels of reductions (max_dim, nll_loss) scatter one value per
// row into a gradient they first set to 0 (any strides; all-zero bits are 0.0).
template <bool Contig, typename T> __global__ void zero_values(StridedOffsets<1> s, int64_t n, T* t) {
  TRT_CUDA_GRID_STRIDE(i, n) t[Contig ? i : s.offset(i, 0)] = T(0);
}

template <typename T> void zero_fill(const trt_tensor_view& t, cudaStream_t stream) {
  int64_t n = numel(t);
  if (n == 0) return;
  if (is_contiguous(t)) {
    cudaMemsetAsync(t.data, 0, static_cast<size_t>(n) * sizeof(T), stream);  // an error shows in check_launch
    return;
  }
  const trt_tensor_view* ops[1] = {&t};
  zero_values<false, T><<<blocks_for(n), kBlock, 0, stream>>>(coalesce(strided_offsets(t, ops)), n, data<T>(t));
}

// ---- reporting a bad element to the host ----
// FirstHit is one device word that kernels lower with atomicMin(i) for each bad
// element i; the host then reads the smallest i, the one a sequential CPU loop
// reports. Allocated per call on the kernel's stream (cudaMallocAsync), so
// kernels running at once on other streams or devices never share it. read()
// synchronises the stream: the device queue's host thread waits for this
// kernel, the script does not. Sentinel: all bits set = no hit.
class FirstHit {
 public:
  static constexpr unsigned long long kNone = ~0ull;

  // Allocates and clears the slot on the stream; "<op>: CUDA error: ..." on failure.
  trt_status init(const trt_kernel_args* a, const char* op) {
    stream_ = stream_of(a);
    cudaError_t e = cudaMallocAsync(reinterpret_cast<void**>(&slot_), sizeof(*slot_), stream_);
    if (e == cudaSuccess) e = cudaMemsetAsync(slot_, 0xff, sizeof(*slot_), stream_);
    return report(a, op, e);
  }
  unsigned long long* slot() const { return slot_; }

  // Waits for the stream and stores the smallest index hit, or kNone, in *first.
  trt_status read(const trt_kernel_args* a, const char* op, unsigned long long* first) {
    *first = kNone;
    cudaError_t e = cudaMemcpyAsync(first, slot_, sizeof(*slot_), cudaMemcpyDeviceToHost, stream_);
    cudaError_t f = cudaFreeAsync(slot_, stream_);
    slot_ = nullptr;
    if (e == cudaSuccess) e = f;
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    return report(a, op, e);
  }

  FirstHit() = default;
  FirstHit(const FirstHit&) = delete;
  FirstHit& operator=(const FirstHit&) = delete;
  ~FirstHit() {
    if (slot_) cudaFreeAsync(slot_, stream_);  // an early return between init() and read()
  }

 private:
  static trt_status report(const trt_kernel_args* a, const char* op, cudaError_t e) {
    if (e == cudaSuccess) return TRT_OK;
    cudaGetLastError();  // clear it, so the next launch check does not see it again
    return fail(a, e == cudaErrorMemoryAllocation ? TRT_ERR_OUT_OF_MEMORY : TRT_ERR_INTERNAL, "%s: CUDA error: %s", op,
                cudaGetErrorString(e));
  }

  cudaStream_t stream_ = nullptr;
  unsigned long long* slot_ = nullptr;
};

__device__ inline void record_hit(unsigned long long* slot, int64_t i) {
  atomicMin(slot, static_cast<unsigned long long>(i));
}

}  // namespace trt_cuda
