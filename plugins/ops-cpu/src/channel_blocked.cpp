// The channel-blocked layout (channel_blocked.h): view tests, the reorder
// kernel between it and NCHW, and the plain-layout fallback for kernels whose
// arithmetic only walks NCHW planes.
#include "channel_blocked.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "host_memory.h"
#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {

bool is_channel_blocked(const trt_tensor_view& v) {
  return v.ndim == 5 && v.sizes[4] == kChannelBlock && is_contiguous(v);
}

bool any_channel_blocked(const trt_kernel_args* a) {
  for (int i = 0; i < a->n_inputs; ++i)
    if (is_channel_blocked(a->inputs[i])) return true;
  for (int i = 0; i < a->n_outputs; ++i)
    if (is_channel_blocked(a->outputs[i])) return true;
  return false;
}

void logical_nchw(const trt_tensor_view& v, int64_t out[4]) {
  bool blocked = is_channel_blocked(v);
  out[0] = v.sizes[0];
  out[1] = blocked ? v.sizes[1] * kChannelBlock : v.sizes[1];
  out[2] = v.sizes[2];
  out[3] = v.sizes[3];
}

namespace {

// nchw (N, C, H, W) <-> blocked (N, C/8, H, W, 8), one (n, channel block) tile per task.
template <typename T> void reorder(const int64_t nchw[4], const T* src, T* dst, bool to_blocked, int threads) {
  int64_t blocks = nchw[1] / kChannelBlock, hw = nchw[2] * nchw[3], tile = kChannelBlock * hw;
  parallel_for(nchw[0] * blocks, threads, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      if (to_blocked) simd::planes_to_tile(src + t * tile, dst + t * tile, hw);
      else simd::tile_to_planes(src + t * tile, dst + t * tile, hw);
    }
  }, 4);
}

template <typename T> void reorder_view(const trt_tensor_view& src, const trt_tensor_view& dst, int threads) {
  bool to_blocked = is_channel_blocked(dst);
  int64_t nchw[4];
  logical_nchw(to_blocked ? dst : src, nchw);
  reorder<T>(nchw, data<T>(src), data<T>(dst), to_blocked, threads);
}

void reorder_any(const trt_tensor_view& src, const trt_tensor_view& dst, int threads) {
  if (src.dtype == TRT_FLOAT64) reorder_view<double>(src, dst, threads);
  else reorder_view<float>(src, dst, threads);
}

// reorder_channel_blocked: inputs [x], outputs [y]: one of them (N, C, H, W), the
// other (N, C/8, H, W, 8) holding the same tensor; float32 or float64.
trt_status reorder_channel_blocked_kernel(const trt_kernel_args* a) {
  if (a->n_inputs != 1 || a->n_outputs != 1)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "reorder_channel_blocked: expects inputs [x] and outputs [y]");
  const trt_tensor_view &x = a->inputs[0], &y = a->outputs[0];
  bool x_blocked = is_channel_blocked(x), y_blocked = is_channel_blocked(y);
  const trt_tensor_view& plain = x_blocked ? y : x;
  if (x_blocked == y_blocked || plain.ndim != 4 || !is_contiguous(plain) || x.dtype != y.dtype ||
      (x.dtype != TRT_FLOAT32 && x.dtype != TRT_FLOAT64))
    return fail(
        a, TRT_ERR_INVALID_ARGUMENT,
        "reorder_channel_blocked: one operand must be a contiguous (N, C, H, W) and the other (N, C/8, H, W, 8), "
        "both float32 or float64");
  int64_t want[4], have[4];
  logical_nchw(x, want);
  logical_nchw(y, have);
  for (int d = 0; d < 4; ++d)
    if (want[d] != have[d])
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "reorder_channel_blocked: the operands hold different shapes");
  reorder_any(x, y, a->num_threads);
  return TRT_OK;
}

}  // namespace

namespace {

// v's twin in the other layout (channel-blocked <-> NCHW), in a buffer kept in
// `copies` for the call; false when out of memory.
bool other_layout_twin(trt_tensor_view& v, std::vector<std::unique_ptr<HostBuffer>>& copies) {
  const bool to_blocked = !is_channel_blocked(v);
  int64_t nchw[4];
  logical_nchw(v, nchw);
  trt_tensor_view twin = v;
  twin.ndim = to_blocked ? 5 : 4;
  if (to_blocked) {
    const int64_t sizes[5] = {nchw[0], nchw[1] / kChannelBlock, nchw[2], nchw[3], kChannelBlock};
    std::copy_n(sizes, 5, twin.sizes);
  } else {
    std::copy_n(nchw, 4, twin.sizes);
  }
  for (int d = twin.ndim - 1; d >= 0; --d) twin.strides[d] = d == twin.ndim - 1 ? 1 : twin.strides[d + 1] * twin.sizes[d + 1];
  copies.push_back(std::make_unique<HostBuffer>(static_cast<size_t>(numel(v) * float_bytes(v.dtype))));
  twin.data = copies.back()->data();
  if (!twin.data) return false;
  v = twin;
  return true;
}

}  // namespace

trt_status run_with_plain_layout(const trt_kernel_args* a, trt_status (*kernel)(const trt_kernel_args*)) {
  std::vector<trt_tensor_view> inputs(a->inputs, a->inputs + a->n_inputs),
      outputs(a->outputs, a->outputs + a->n_outputs);
  std::vector<std::unique_ptr<HostBuffer>> copies;
  auto plain_twin = [&](trt_tensor_view& v) { return !is_channel_blocked(v) || other_layout_twin(v, copies); };
  for (int i = 0; i < a->n_inputs; ++i) {
    if (!plain_twin(inputs[i]))
      return fail(a, TRT_ERR_OUT_OF_MEMORY, "out of memory for a channel-blocked operand's NCHW copy");
    if (inputs[i].data != a->inputs[i].data) reorder_any(a->inputs[i], inputs[i], a->num_threads);
  }
  for (auto& v : outputs)
    if (!plain_twin(v))
      return fail(a, TRT_ERR_OUT_OF_MEMORY, "out of memory for a channel-blocked operand's NCHW copy");
  trt_kernel_args plain_args =
      with_operands(a, inputs.data(), a->n_inputs, outputs.data(), a->n_outputs, a->int_attrs, a->n_int_attrs);
  if (trt_status s = kernel(&plain_args); s != TRT_OK) return s;
  for (int i = 0; i < a->n_outputs; ++i)
    if (outputs[i].data != a->outputs[i].data) reorder_any(outputs[i], a->outputs[i], a->num_threads);
  return TRT_OK;
}

trt_status run_with_blocked_inputs(const trt_kernel_args* a, std::initializer_list<int> activations,
                                   trt_status (*kernel)(const trt_kernel_args*)) {
  std::vector<trt_tensor_view> inputs(a->inputs, a->inputs + a->n_inputs);
  std::vector<std::unique_ptr<HostBuffer>> copies;
  for (int i : activations) {
    if (is_channel_blocked(inputs[i])) continue;
    if (inputs[i].ndim != 4 || inputs[i].sizes[1] % kChannelBlock != 0 || !is_contiguous(inputs[i]))
      return fail(a, TRT_ERR_INVALID_ARGUMENT, "input %d is not a contiguous (N, C, H, W) with C %% 8 == 0", i);
    if (!other_layout_twin(inputs[i], copies))
      return fail(a, TRT_ERR_OUT_OF_MEMORY, "out of memory for an NCHW operand's channel-blocked copy");
    reorder_any(a->inputs[i], inputs[i], a->num_threads);
  }
  trt_kernel_args blocked_args =
      with_operands(a, inputs.data(), a->n_inputs, a->outputs, a->n_outputs, a->int_attrs, a->n_int_attrs);
  return kernel(&blocked_args);
}

bool register_channel_blocked(const trt_host_api* host) {
#ifdef TRT_HAVE_DNNL
  return add_kernel(host, "reorder_channel_blocked", reorder_channel_blocked_kernel);
#else
  (void)host;
  (void)&reorder_channel_blocked_kernel;
  return true;  // convolutions would only reorder internally: the plan keeps NCHW
#endif
}

}  // namespace trt_cpu
