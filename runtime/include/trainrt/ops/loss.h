// Softmax family, losses and dropout.
#pragma once
#include "trainrt/tensor.h"

namespace trainrt::ops {

enum class Reduction { None, Mean, Sum };

Tensor log_softmax(const Tensor& x, int64_t dim = -1);
Tensor softmax(const Tensor& x, int64_t dim = -1);
// logp: (N, C), target: int64 (N) with values in [0, C). Error names the bad label.
Tensor nll_loss(const Tensor& logp, const Tensor& target, Reduction reduction = Reduction::Mean);
// logits: (N, C), target: int64 (N).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Zeroes elements with probability p and scales the rest by 1/(1-p); identity when !training.
Tensor dropout(const Tensor& x, double p, bool training = true);

}  // namespace trainrt::ops
