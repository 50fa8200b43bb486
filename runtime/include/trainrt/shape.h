// Shapes and strides: small helpers shared by every op's shape rule.
// Strides are in elements. Errors name both shapes, e.g. "(64, 3136) x (128, 10)".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trainrt {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "(2, 3)", "()" for a scalar

// Normalises a possibly negative dim against ndim; `op` names the caller in the error.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy broadcasting of two shapes; throws "op: shapes (2, 3) and (4) cannot be broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace trainrt
