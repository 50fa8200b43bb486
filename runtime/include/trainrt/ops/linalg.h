// Matrix products, backed by the BLAS of the device (OpenBLAS, cuBLAS).
#pragma once
#include "trainrt/tensor.h"

namespace trainrt::ops {

// a: (..., M, K) x b: (..., K, N) -> (..., M, N); 1-D operands as in NumPy;
// batch dims broadcast. Error: "matmul: (64, 3136) x (128, 10) - inner sizes differ".
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (..., in) w: (out, in) b: (out) or undefined -> (..., out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace trainrt::ops
