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

}  // namespace trainrt::ops
