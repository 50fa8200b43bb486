// Reductions. `dims` empty = all dims. keepdim keeps reduced dims as size 1.
#pragma once
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::ops {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Biased (population) variance when unbiased=false, as BatchNorm uses.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);     // values
Tensor max(const Tensor& x);                                       // over all elements
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64
// Sums a broadcast gradient back to `shape` (inverse of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace trainrt::ops
