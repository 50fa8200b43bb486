// Dataset: the samples of one opened loader plugin (trt_loader_def), seen
// through an optional index map (subsets). Copies are cheap and share the
// plugin handle, which is closed when the last copy goes.
// Deliberately no batching, shuffling or transforms: see sampler.h, collate.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/dtype.h"
#include "trainrt/shape.h"
#include "trainrt/tensor.h"

namespace trainrt::data {

struct FieldSpec {
  DType dtype = DType::Float32;
  Shape sizes;  // one sample's shape, e.g. {28, 28} for an image, {} for a label
  int64_t nbytes() const { return numel_of(sizes) * static_cast<int64_t>(dtype_size(dtype)); }
};

class Dataset {
 public:
  // Opens `loader` (a registered loader plugin name, e.g. "idx") with its
  // options string. Throws Error naming the plugin when the loader is unknown,
  // and the plugin's own one-line message when open fails.
  static Dataset open(const std::string& loader, const std::string& options);

  int64_t size() const;  // samples in this view
  int num_fields() const;
  const FieldSpec& field(int k) const;
  const std::string& loader_name() const;

  // Writes field k of sample i (0-based in this view) into dst, contiguous per
  // field(k). Thread-safe (loaders must serve concurrent reads).
  void read(int64_t i, int k, void* dst) const;
  // Sample i as raw tensors, one per field, with the loader's dtypes and shapes.
  std::vector<Tensor> get(int64_t i) const;

  // A view of these samples: the first n, or the given 0-based indices (into
  // this view; repeats allowed). Throws on an index out of range.
  Dataset subset(int64_t n) const;
  Dataset subset(const std::vector<int64_t>& indices) const;

 private:
  struct Source;  // the open plugin handle + field specs
  std::shared_ptr<const Source> source_;
  std::shared_ptr<const std::vector<int64_t>> indices_;  // null: identity
};

}  // namespace trainrt::data
