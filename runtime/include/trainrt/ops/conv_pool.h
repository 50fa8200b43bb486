// Convolution and pooling over NCHW tensors.
#pragma once
#include <array>

#include "trainrt/tensor.h"

namespace trainrt::ops {

struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};

// x: (N, C, H, W), w: (O, C/groups, kH, kW), b: (O) or undefined -> (N, O, OH, OW)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), const Conv2dOptions& options = {});

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0 = kernel size (PyTorch default)
  std::array<int64_t, 2> padding{0, 0};
  bool count_include_pad = true;        // avg_pool2d only
};

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options = {});
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options = {});

// max_pool2d(relu(conv2d(x, w, b))) for inference: with no gradient to build
// and a device kernel for it (ops-cpu), the convolution's output is made and
// pooled a few samples at a time and never exists whole (an evaluation batch
// of 1000 through the seed CNN's first layer: 8 MB instead of 100 MB); the
// same values as the composition. Otherwise it is the composition.
Tensor conv2d_relu_max_pool2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& conv,
                              const Pool2dOptions& pool);

}  // namespace trainrt::ops
