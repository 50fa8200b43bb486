// Joining tensors. cat has no kernel of its own: it writes each input into a
// narrow view of the output with the `copy` kernel, and its backward hands
// each input the matching narrow view of the gradient.
#pragma once
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::ops {

// Concatenates `tensors` along `dim` (negative counts from the end). All must
// have one dtype, one device, the same rank and the same sizes except in `dim`.
// Differentiable in every input.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);

}  // namespace trainrt::ops
