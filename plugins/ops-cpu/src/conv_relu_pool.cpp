// conv2d_relu_max_pool2d: y = max_pool2d(relu(conv2d(x, w, b))) for inference
// (the runtime calls it only when no gradient is needed). The convolution's
// output never exists whole: the batch goes through conv2d_relu a chunk of
// samples at a time into one buffer of at most kChunkBytes, which max_pool2d
// reduces into the chunk's rows of y. Evaluating the seed CNN at batch 1000
// held a 100 MB first-layer output; here it holds 8 MB. Each sample's result
// is the composition's, bit for bit: both kernels treat samples independently.
#include <algorithm>

#include "host_memory.h"
#include "kernel_util.h"
#include "kernels.h"

namespace trt_cpu {
namespace {

constexpr int64_t kChunkBytes = int64_t{8} << 20;

int64_t conv_extent(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

// The first `count` samples of a contiguous (N, ...) view, from sample `first`.
trt_tensor_view samples(const trt_tensor_view& v, int64_t first, int64_t count) {
  trt_tensor_view s = v;
  s.sizes[0] = count;
  s.data = static_cast<char*>(v.data) + first * v.strides[0] * float_bytes(v.dtype);
  return s;
}

}  // namespace

// inputs [x (N, C, H, W), w (O, C/G, kH, kW), optional b (O)], outputs [y (N, O, PH, PW)],
// int_attrs [conv2d's 7 (sh, sw, ph, pw, dh, dw, groups), max_pool2d's 6 (kh, kw, sh, sw, ph, pw)]
trt_status conv2d_relu_max_pool2d_kernel(const trt_kernel_args* a) {
  if (a->n_inputs < 2 || a->n_inputs > 3 || a->n_outputs != 1 || a->n_int_attrs < 13)
    return fail(a, TRT_ERR_INVALID_ARGUMENT,
                "conv2d_relu_max_pool2d: wrong number of inputs, outputs or int_attrs (see docs/ops.md)");
  const trt_tensor_view &x = a->inputs[0], &w = a->inputs[1], &y = a->outputs[0];
  if (!is_contiguous(x) || !is_contiguous(y))
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "conv2d_relu_max_pool2d: tensors must be contiguous");
  if (x.dtype != TRT_FLOAT32 && x.dtype != TRT_FLOAT64)
    return fail(a, TRT_ERR_INVALID_ARGUMENT, "conv2d_relu_max_pool2d: float32 or float64 only");
  const int64_t* c = a->int_attrs;  // sh, sw, ph, pw, dh, dw, groups
  const int64_t N = x.sizes[0], O = w.sizes[0];
  const int64_t OH = conv_extent(x.sizes[2], w.sizes[2], c[0], c[2], c[4]);
  const int64_t OW = conv_extent(x.sizes[3], w.sizes[3], c[1], c[3], c[5]);
  if (N == 0 || numel(y) == 0) return TRT_OK;
  const int64_t sample_bytes = O * OH * OW * float_bytes(x.dtype);
  const int64_t chunk = std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(sample_bytes, 1), 1, N);
  HostBuffer buffer(static_cast<size_t>(chunk * sample_bytes));
  if (!buffer.data())
    return fail(a, TRT_ERR_OUT_OF_MEMORY, "conv2d_relu_max_pool2d: no memory for a %lld-byte chunk",
                static_cast<long long>(chunk * sample_bytes));
  trt_tensor_view conv_out = y;  // (chunk, O, OH, OW) in the buffer
  conv_out.data = buffer.data();
  conv_out.sizes[1] = O;
  conv_out.sizes[2] = OH;
  conv_out.sizes[3] = OW;
  conv_out.strides[3] = 1;
  conv_out.strides[2] = OW;
  conv_out.strides[1] = OH * OW;
  conv_out.strides[0] = O * OH * OW;
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t count = std::min(chunk, N - n0);
    trt_tensor_view conv_inputs[3] = {samples(x, n0, count), w, a->n_inputs > 2 ? a->inputs[2] : w};
    trt_tensor_view conv_output = samples(conv_out, 0, count), pooled = samples(y, n0, count);
    trt_kernel_args conv = with_operands(a, conv_inputs, a->n_inputs, &conv_output, 1, a->int_attrs, 7);
    if (trt_status s = run_conv2d_relu(&conv); s != TRT_OK) return s;
    trt_kernel_args pool = with_operands(a, &conv_output, 1, &pooled, 1, a->int_attrs + 7, 6);
    if (trt_status s = run_max_pool2d(&pool); s != TRT_OK) return s;
  }
  return TRT_OK;
}

}  // namespace trt_cpu
