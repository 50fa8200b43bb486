// Plain-loop float64 references for the op tests: a tensor's values as a
// row-major array with multi-index access, and builders that fill a reference
// tensor element by element. Deliberately naive: no trainrt op is used to
// compute a reference value, only to read inputs (to_vector) and wrap results.
#pragma once
#include <functional>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::test {

using Index = std::vector<int64_t>;

// Values of a tensor in logical row-major order, indexable by a multi-index.
struct Ref {
  Shape shape;
  std::vector<double> v;
  explicit Ref(const Tensor& t) : shape(t.sizes()), v(t.to_vector()) {}
  int64_t flat(const Index& idx) const {
    int64_t f = 0;
    for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + idx[d];
    return f;
  }
  double operator()(const Index& idx) const { return v[static_cast<size_t>(flat(idx))]; }
  // Value at an index of a (broadcast) output shape: right-aligned, size-1 dims read index 0.
  double broadcast_at(const Index& out_idx) const {
    Index idx(shape.size());
    size_t lead = out_idx.size() - shape.size();
    for (size_t d = 0; d < shape.size(); ++d) idx[d] = shape[d] == 1 ? 0 : out_idx[lead + d];
    return (*this)(idx);
  }
};

// Calls f(index) for every index of `shape` in row-major order.
inline void for_each_index(const Shape& shape, const std::function<void(const Index&)>& f) {
  int64_t n = numel_of(shape);
  Index idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// A float64 tensor of `shape` whose element at idx is f(idx).
inline Tensor build(const Shape& shape, const std::function<double(const Index&)>& f,
                    DType dtype = DType::Float64) {
  std::vector<double> values;
  values.reserve(static_cast<size_t>(numel_of(shape)));
  for_each_index(shape, [&](const Index& idx) { values.push_back(f(idx)); });
  return Tensor::from_vector(values, shape, dtype);
}

}  // namespace trainrt::test
