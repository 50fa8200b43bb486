// Batch assembly: samples of a Dataset stacked into one contiguous tensor per
// field, the way torchvision's ToTensor + default_collate would:
//   uint8 (H, W)      -> float32 (B, 1, H, W) scaled to [0, 1] (channel dim added)
//   uint8 other shape -> float32 (B, ...) scaled to [0, 1]
//   float32/float64   -> same dtype (B, ...)
//   int64 (labels)    -> int64 (B, ...)
// then the optional Normalize on every floating field: (x - mean) / std.
// Deliberately plain loops over host memory: it runs on worker threads and
// records no autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "trainrt/data/dataset.h"
#include "trainrt/tensor.h"

namespace trainrt::data {

// mean/std hold one value for all elements, or one per entry of dim 1 of the
// batched field (per channel for images, per feature for tables).
struct Normalize {
  std::vector<double> mean, std;
  bool enabled() const { return !mean.empty(); }
};

void check_normalize(const Normalize& normalize);  // sizes match, std != 0
// Shape of field k once batched with batch size B (channel dim included).
Shape batched_shape(const FieldSpec& spec, int64_t batch);
DType batched_dtype(const FieldSpec& spec);
// One tensor per field; `indices` are 0-based into `dataset`.
std::vector<Tensor> collate(const Dataset& dataset, const std::vector<int64_t>& indices,
                            const Normalize& normalize = {});
// Sample i as the loader would give it in a batch of one, without the batch
// dim: image float32 (1, H, W), label int64 scalar.
std::vector<Tensor> example(const Dataset& dataset, int64_t i);

}  // namespace trainrt::data
