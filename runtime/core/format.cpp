// Tensor::str(): values formatted like PyTorch's repr, e.g.
//   tensor([[1.0000, 2.5000],
//           [3.0000, 4.0000]], requires_grad=True)
// Floats use 4 decimals (or "1." when all are whole numbers, or scientific
// notation when magnitudes span too much); more than 1000 elements are
// summarised with "..." keeping 3 items at each edge. Not here: line wrapping
// of very long rows, which PyTorch does at 80 columns.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "trainrt/autograd.h"
#include "trainrt/tensor.h"

namespace trainrt {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

enum class Style { Integer, WholeFloat, Fixed, Scientific };

struct Formatter {
  Style style = Style::Fixed;
  size_t width = 0;

  std::string plain(double v) const {
    char buf[64];
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    switch (style) {
      case Style::Integer: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v)); break;
      case Style::WholeFloat: std::snprintf(buf, sizeof buf, "%.0f.", v); break;
      case Style::Fixed: std::snprintf(buf, sizeof buf, "%.4f", v); break;
      case Style::Scientific: std::snprintf(buf, sizeof buf, "%.4e", v); break;
    }
    return buf;
  }
  std::string padded(double v) const {
    std::string s = plain(v);
    return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
  }
};

// Indices kept along one dim of size n (all, or the edges when summarising).
std::vector<int64_t> kept_indices(int64_t n, bool summarise) {
  std::vector<int64_t> idx;
  if (summarise && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);  // "..."
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

struct Printer {
  const std::vector<double>& values;  // contiguous copy
  const Shape& sizes;
  Shape strides;
  bool summarise;
  Formatter fmt;

  void collect(int64_t dim, int64_t offset, std::vector<double>& out) const {
    if (dim == static_cast<int64_t>(sizes.size())) {
      out.push_back(values[offset]);
      return;
    }
    for (int64_t i : kept_indices(sizes[dim], summarise))
      if (i >= 0) collect(dim + 1, offset + i * strides[dim], out);
  }

  // indent = column where this dim's '[' sits, plus one.
  void print(int64_t dim, int64_t offset, size_t indent, std::string& out) const {
    int64_t ndim = static_cast<int64_t>(sizes.size());
    out += '[';
    std::vector<int64_t> idx = kept_indices(sizes[dim], summarise);
    for (size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) {
        out += ',';
        if (dim == ndim - 1) {
          out += ' ';
        } else {
          out += std::string(static_cast<size_t>(ndim - 1 - dim), '\n');
          out += std::string(indent + 1, ' ');
        }
      }
      if (idx[k] < 0) {
        out += "...";
      } else if (dim == ndim - 1) {
        out += fmt.padded(values[offset + idx[k] * strides[dim]]);
      } else {
        print(dim + 1, offset + idx[k] * strides[dim], indent + 1, out);
      }
    }
    out += ']';
  }
};

Formatter choose_format(DType dtype, const std::vector<double>& shown) {
  Formatter f;
  if (!is_floating(dtype)) {
    f.style = Style::Integer;
  } else {
    double max_abs = 0, min_abs = INFINITY;
    bool all_whole = true;
    for (double v : shown) {
      if (!std::isfinite(v)) continue;
      double a = std::fabs(v);
      max_abs = std::max(max_abs, a);
      if (a > 0) min_abs = std::min(min_abs, a);
      if (v != std::nearbyint(v)) all_whole = false;
    }
    bool wide_range = min_abs != INFINITY && (max_abs / min_abs > 1000.0 || max_abs > 1e8 || min_abs < 1e-4);
    if (all_whole && max_abs < 1e8) f.style = Style::WholeFloat;
    else if (wide_range) f.style = Style::Scientific;
    else f.style = Style::Fixed;
  }
  for (double v : shown) f.width = std::max(f.width, f.plain(v).size());
  return f;
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> values = to_vector();
  Printer printer{values, sizes(), contiguous_strides(sizes()), numel() > kSummariseAbove, {}};
  std::vector<double> shown;
  printer.collect(0, 0, shown);
  printer.fmt = choose_format(dtype(), shown);

  std::string out = "tensor(";
  if (dim() == 0) {
    out += printer.fmt.plain(values.at(0));
  } else if (numel() == 0) {
    out += "[]";
  } else {
    printer.print(0, 0, out.size(), out);
  }
  if (dtype() != DType::Float32 && dtype() != DType::Int64) out += std::string(", dtype=") + dtype_name(dtype());
  if (numel() == 0 && dim() > 1) out += ", size=" + shape_str();
  if (device() != Device::cpu()) out += ", device='" + device().str() + "'";
  if (grad_fn()) out += ", grad_fn=<" + grad_fn()->name() + ">";
  else if (requires_grad()) out += ", requires_grad=True";
  out += ')';
  return out;
}

}  // namespace trainrt
