// Shape arithmetic: element counts, contiguous strides, broadcasting.
#include "trainrt/shape.h"

#include <algorithm>
#include <limits>

#include "trainrt/error.h"

namespace trainrt {

// A zero anywhere makes the count 0, whatever the other sizes multiply to;
// otherwise the product must fit in int64 (a wrapped count would be a lie).
int64_t numel_of(const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t s : shape)
    TRT_CHECK(!__builtin_mul_overflow(n, s, &n), "shape ", shape_str(shape), " has more elements than int64 counts");
  return n;
}

// Saturates instead of overflowing: only an empty tensor (a zero size) can
// have sizes whose product exceeds int64 (Tensor::empty checks the bytes of the
// others), and its strides are never used to address memory.
Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    if (__builtin_mul_overflow(stride, std::max<int64_t>(shape[i], 1), &stride))
      stride = std::numeric_limits<int64_t>::max();
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + ")";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t range = std::max<int64_t>(ndim, 1);
  TRT_CHECK(dim >= -range && dim < range, op, ": dim ", dim, " out of range for a tensor with ", ndim,
            " dims (expected ", -range, " to ", range - 1, ")");
  return dim < 0 ? dim + range : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TRT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
              " cannot be broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace trainrt
