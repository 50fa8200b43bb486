// Batch assembly into contiguous tensors; see trainrt/data/collate.h.
#include "trainrt/data/collate.h"

#include <cstring>

#include "trainrt/error.h"

namespace trainrt::data {

namespace {

// dst[0..n) = (src / 255) as float32; the ToTensor scaling.
void scale_u8(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
}

// x: (B, C, ...) float contiguous; (x - mean[c]) / std[c], c = dim 1 when
// mean has C entries, else one pair for all.
template <typename T>
void normalize_field(Tensor& x, const Normalize& n) {
  const int64_t B = x.size(0);
  const int64_t C = x.dim() >= 2 ? x.size(1) : 1;
  const int64_t inner = B == 0 ? 0 : x.numel() / (B * C);
  const bool per_channel = n.mean.size() > 1;
  TRT_CHECK(!per_channel || static_cast<int64_t>(n.mean.size()) == C, "normalize: ", n.mean.size(),
            " mean/std values but the batch ", x.shape_str(), " has ", C, " channels (dim 2)");
  T* p = x.data<T>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const T mean = static_cast<T>(n.mean[per_channel ? c : 0]);
      const T inv_std = static_cast<T>(1.0 / n.std[per_channel ? c : 0]);
      T* q = p + (b * C + c) * inner;
      for (int64_t i = 0; i < inner; ++i) q[i] = (q[i] - mean) * inv_std;
    }
}

}  // namespace

void check_normalize(const Normalize& n) {
  if (!n.enabled() && n.std.empty()) return;
  TRT_CHECK(!n.mean.empty() && n.mean.size() == n.std.size(), "normalize: mean and std need the same number of values, got ",
            n.mean.size(), " and ", n.std.size());
  for (double s : n.std) TRT_CHECK(s != 0, "normalize: std must be non-zero");
}

DType batched_dtype(const FieldSpec& spec) { return spec.dtype == DType::UInt8 ? DType::Float32 : spec.dtype; }

Shape batched_shape(const FieldSpec& spec, int64_t batch) {
  Shape s{batch};
  if (spec.dtype == DType::UInt8 && spec.sizes.size() == 2) s.push_back(1);  // (H, W) -> (1, H, W)
  s.insert(s.end(), spec.sizes.begin(), spec.sizes.end());
  return s;
}

std::vector<Tensor> collate(const Dataset& dataset, const std::vector<int64_t>& indices, const Normalize& normalize) {
  const int64_t B = static_cast<int64_t>(indices.size());
  std::vector<Tensor> out;
  std::vector<uint8_t> scratch;
  for (int k = 0; k < dataset.num_fields(); ++k) {
    const FieldSpec& spec = dataset.field(k);
    Tensor t = Tensor::empty(batched_shape(spec, B), batched_dtype(spec));  // (B, ...)
    const int64_t per = numel_of(spec.sizes);
    if (spec.dtype == DType::UInt8) {
      scratch.resize(static_cast<size_t>(per));
      float* dst = t.data<float>();
      for (int64_t b = 0; b < B; ++b) {
        dataset.read(indices[b], k, scratch.data());
        scale_u8(scratch.data(), dst + b * per, per);
      }
    } else {
      char* dst = static_cast<char*>(t.data_ptr());
      for (int64_t b = 0; b < B; ++b) dataset.read(indices[b], k, dst + b * spec.nbytes());
    }
    if (normalize.enabled() && t.dtype() == DType::Float32) normalize_field<float>(t, normalize);
    if (normalize.enabled() && t.dtype() == DType::Float64) normalize_field<double>(t, normalize);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Tensor> example(const Dataset& dataset, int64_t i) {
  std::vector<Tensor> batch = collate(dataset, {i});
  for (auto& t : batch) t = t.select(0, 0).contiguous();
  return batch;
}

}  // namespace trainrt::data
