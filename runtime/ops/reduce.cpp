// Reductions: sum/mean/var over dims, max/argmax along one dim, sum_to.
// Kernels work in "keepdim" form (reduced dims kept as size 1); the keepdim=false
// result is a view of that.
#include "trainrt/ops/reduce.h"

#include <algorithm>

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/ops/elementwise.h"

namespace trainrt::ops {
namespace {

// Sorted unique non-negative dims; empty input = all dims.
std::vector<int64_t> normalise_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, x.dim(), op));
  if (x.dim() == 0) return {};  // dim 0 / -1 of a scalar is the scalar: no dim to index
  std::sort(out.begin(), out.end());
  TRT_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": a dim appears twice");
  return out;
}

Shape keepdim_shape(const Shape& in, const std::vector<int64_t>& dims) {
  Shape s = in;
  for (int64_t d : dims) s[d] = 1;
  return s;
}

Shape dropped_shape(const Shape& in, const std::vector<int64_t>& dims) {
  Shape s;
  for (int64_t i = 0; i < static_cast<int64_t>(in.size()); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), i)) s.push_back(in[i]);
  return s;
}

int64_t reduced_count(const Shape& in, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= in[d];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  std::vector<int64_t> dims = normalise_dims(x, dims_in, "sum");
  DType dt = is_floating(x.dtype()) ? x.dtype() : DType::Int64;
  Tensor src = x.dtype() == dt ? x.detach() : x.detach().to(dt);
  Shape kshape = keepdim_shape(x.sizes(), dims);
  Tensor out = Tensor::empty(kshape, dt, x.device());
  if (x.numel() == 0) fill_(out, 0);
  else call_kernel("sum", {src}, {out});
  if (!keepdim) out = out.view(dropped_shape(x.sizes(), dims));
  // forward: y = sum_dims(x)  =>  dx = expand(dy)
  record("sum", {x}, out, [in_shape = x.sizes(), kshape](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(kshape).expand(in_shape).contiguous()};
  });
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  TRT_CHECK(is_floating(x.dtype()), "mean: needs a floating tensor, got ", dtype_name(x.dtype()),
            "; convert with :float()");
  std::vector<int64_t> dims = normalise_dims(x, dims_in, "mean");
  int64_t n = reduced_count(x.sizes(), dims);
  TRT_CHECK(n > 0, "mean: reducing an empty tensor of shape ", x.shape_str());
  return div(sum(x, dims, keepdim), static_cast<double>(n));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, bool unbiased, bool keepdim) {
  std::vector<int64_t> dims = normalise_dims(x, dims_in, "var");
  int64_t n = reduced_count(x.sizes(), dims);
  TRT_CHECK(n > (unbiased ? 1 : 0), "var: needs at least ", unbiased ? 2 : 1, " elements per group, shape ",
            x.shape_str());
  Tensor centered = sub(x, mean(x, dims, true));
  return div(sum(mul(centered, centered), dims, keepdim), static_cast<double>(unbiased ? n - 1 : n));
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  dim = wrap_dim(dim, x.dim(), "max");
  TRT_CHECK(x.dim() == 0 || x.size(dim) > 0, "max: dim ", dim, " of shape ", x.shape_str(), " is empty");
  Shape kshape = keepdim_shape(x.sizes(), x.dim() ? std::vector<int64_t>{dim} : std::vector<int64_t>{});
  Tensor values = Tensor::empty(kshape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(kshape, DType::Int64, x.device());
  call_kernel("max_dim", {x.detach()}, {values, indices}, {dim});
  Tensor out = keepdim || x.dim() == 0 ? values : values.squeeze(dim);
  // forward: y = max_dim(x)  =>  dx = dy scattered to the arg-max positions
  record("max", {x}, out, [in_shape = x.sizes(), kshape, indices, dim](const Tensor& g) {
    Tensor dx = Tensor::empty(in_shape, g.dtype(), g.device());
    call_kernel("max_dim_backward", {g.reshape(kshape), indices}, {dx}, {dim});
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor max(const Tensor& x) { return max(x.reshape({-1}), 0, false); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  dim = wrap_dim(dim, x.dim(), "argmax");
  Shape kshape = keepdim_shape(x.sizes(), x.dim() ? std::vector<int64_t>{dim} : std::vector<int64_t>{});
  Tensor values = Tensor::empty(kshape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(kshape, DType::Int64, x.device());
  call_kernel("max_dim", {x.detach()}, {values, indices}, {dim});
  return keepdim || x.dim() == 0 ? indices : indices.squeeze(dim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  TRT_CHECK(static_cast<int64_t>(shape.size()) <= x.dim(), "sum_to: cannot reduce ", x.shape_str(), " to ",
            shape_str(shape));
  size_t lead = x.sizes().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < x.sizes().size(); ++i) {
    if (i < lead) dims.push_back(static_cast<int64_t>(i));
    else if (shape[i - lead] == 1 && x.sizes()[i] != 1) dims.push_back(static_cast<int64_t>(i));
    else TRT_CHECK(shape[i - lead] == x.sizes()[i], "sum_to: cannot reduce ", x.shape_str(), " to ", shape_str(shape));
  }
  return sum(x, dims, true).reshape(shape);
}

}  // namespace trainrt::ops
