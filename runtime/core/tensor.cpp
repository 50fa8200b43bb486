// Tensor data model: construction, geometry queries, host access and the
// differentiable view operations (they share storage; backward reshapes,
// transposes, pads or sums the gradient back to the input's geometry).
#include "trainrt/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "trainrt/autograd.h"
#include "trainrt/capture.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"

namespace trainrt {

TensorImpl& Tensor::impl() const {
  TRT_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& sizes, DType dtype, Device device) {
  for (int64_t s : sizes) TRT_CHECK(s >= 0, "negative size in shape ", trainrt::shape_str(sizes));
  TRT_CHECK(sizes.size() <= TRT_MAX_DIMS, "tensors have at most ", TRT_MAX_DIMS, " dims, got ", trainrt::shape_str(sizes));
  // The byte count must fit in int64: a wrapped product would allocate a small
  // block that kernels then write numel elements into.
  int64_t bytes = static_cast<int64_t>(dtype_size(dtype));
  if (std::find(sizes.begin(), sizes.end(), 0) != sizes.end()) bytes = 0;
  for (int64_t s : sizes)
    TRT_CHECK(bytes == 0 || !__builtin_mul_overflow(bytes, s, &bytes), "tensor of shape ", trainrt::shape_str(sizes), " ",
              dtype_name(dtype), " is too large (more than 2^63 bytes)");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(bytes), device);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& sizes, DType dtype) {
  TRT_CHECK(static_cast<int64_t>(values.size()) == numel_of(sizes), "from_vector: ", values.size(),
            " values do not fill shape ", trainrt::shape_str(sizes));
  Tensor t = empty(sizes, dtype);
  for (size_t i = 0; i < values.size(); ++i) {
    switch (dtype) {
      case DType::Float32: t.data<float>()[i] = static_cast<float>(values[i]); break;
      case DType::Float64: t.data<double>()[i] = values[i]; break;
      case DType::Int64: t.data<int64_t>()[i] = static_cast<int64_t>(values[i]); break;
      case DType::UInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(values[i]); break;
      default: fail(std::string("from_vector: unsupported dtype ") + dtype_name(dtype));
    }
  }
  return t;
}

int64_t Tensor::size(int64_t d) const {
  // wrap_dim accepts dim 0 of a 0-dim tensor (as squeeze and sum need); it has no size to read.
  TRT_CHECK(dim() > 0, "size: tensor of shape () has no dims");
  return sizes()[wrap_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no elements, no layout (a size-0 dim zeroes `expected` below)
  int64_t expected = 1;
  for (size_t i = sizes().size(); i-- > 0;) {
    if (sizes()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= sizes()[i];
  }
  return true;
}

void* Tensor::kernel_data_ptr() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(dtype_size(dtype()));
}

void* Tensor::data_ptr() const {
  capture::on_host_access(storage().get());
  storage()->wait_ready();
  return kernel_data_ptr();
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = device().type == DeviceType::CPU ? *this : detach().to(Device::cpu());
  {
    NoGradGuard no_grad;
    host = host.detach().contiguous();
  }
  std::vector<double> out(static_cast<size_t>(host.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (host.dtype()) {
      case DType::Float32: out[i] = host.data<float>()[i]; break;
      case DType::Float64: out[i] = host.data<double>()[i]; break;
      case DType::Int64: out[i] = static_cast<double>(host.data<int64_t>()[i]); break;
      case DType::UInt8: out[i] = host.data<uint8_t>()[i]; break;
      default: fail(std::string("cannot read values of dtype ") + dtype_name(host.dtype()));
    }
  }
  return out;
}

double Tensor::item() const {
  TRT_CHECK(numel() == 1, "item: tensor of shape ", shape_str(), " has ", numel(),
            " elements; item() needs exactly one");
  return to_vector()[0];
}

Tensor& Tensor::set_requires_grad(bool value) {
  TRT_CHECK(!value || is_floating(dtype()), "requires_grad: only floating tensors can require grad, got ",
            dtype_name(dtype()));
  TRT_CHECK(is_leaf() || value, "requires_grad: cannot turn off grad on a non-leaf tensor; use detach()");
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined())
    TRT_CHECK(grad.sizes() == sizes(), "set_grad: gradient of shape ", grad.shape_str(), " for tensor of shape ",
              shape_str());
  impl().grad = grad.impl_ptr();
}

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->offset = offset();
  impl->sizes = sizes();
  impl->strides = strides();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset) {
  // Kernels get trt_tensor_view, whose size and stride arrays hold TRT_MAX_DIMS.
  TRT_CHECK(sizes.size() <= TRT_MAX_DIMS, "tensors have at most ", TRT_MAX_DIMS, " dims, got ",
            trainrt::shape_str(sizes));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

namespace {

// Resolves a single -1 and checks the element count is preserved.
Shape infer_shape(const Shape& requested, int64_t numel, const Shape& from, const char* op) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TRT_CHECK(infer_at < 0, op, ": only one size may be -1 in ", trainrt::shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      TRT_CHECK(out[i] >= 0, op, ": negative size in ", trainrt::shape_str(requested));
      // A wrapped product could match numel (e.g. 2^64 -> 0 for an empty tensor).
      TRT_CHECK(!__builtin_mul_overflow(known, out[i], &known), op, ": cannot reshape ", trainrt::shape_str(from),
                " (", numel, " elements) into ", trainrt::shape_str(requested), " (more than 2^63 elements)");
    }
  }
  if (infer_at >= 0) {
    TRT_CHECK(known > 0 && numel % known == 0, op, ": cannot reshape ", trainrt::shape_str(from), " (", numel,
              " elements) into ", trainrt::shape_str(requested));
    out[infer_at] = numel / known;
  }
  TRT_CHECK(numel_of(out) == numel, op, ": cannot reshape ", trainrt::shape_str(from), " (", numel, " elements) into ",
            trainrt::shape_str(requested), " (", numel_of(out), " elements)");
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape sizes_out = infer_shape(requested, numel(), sizes(), "view");
  TRT_CHECK(is_contiguous(), "view: tensor of shape ", shape_str(), " is not contiguous; use reshape() or contiguous()");
  Tensor out = make_view(*this, sizes_out, contiguous_strides(sizes_out), offset());
  Shape in_shape = sizes();
  record("view", {*this}, out, [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  if (is_contiguous()) return view(requested);
  return contiguous().view(requested);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  if (dim() == 0) return *this;
  d0 = wrap_dim(d0, dim(), "transpose");
  d1 = wrap_dim(d1, dim(), "transpose");
  Shape s = sizes(), st = strides();
  std::swap(s[d0], s[d1]);
  std::swap(st[d0], st[d1]);
  Tensor out = make_view(*this, s, st, offset());
  record("transpose", {*this}, out, [d0, d1](const Tensor& g) { return std::vector<Tensor>{g.transpose(d0, d1)}; });
  return out;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  TRT_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(), " dims for a tensor of shape ",
            shape_str());
  Shape s(dims.size()), st(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    TRT_CHECK(inverse[d] < 0, "permute: dim ", d, " repeated");
    inverse[d] = static_cast<int64_t>(i);
    s[i] = sizes()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, s, st, offset());
  record("permute", {*this}, out, [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  TRT_CHECK(dim() > 0, "narrow: tensor of shape () has no dims");
  d = wrap_dim(d, dim(), "narrow");
  if (start < 0) start += sizes()[d];
  // The end may overflow int64 for a huge length: saturate it instead of wrapping past the check.
  int64_t end = 0;
  if (__builtin_add_overflow(start, length, &end)) end = std::numeric_limits<int64_t>::max();
  TRT_CHECK(start >= 0 && length >= 0 && end <= sizes()[d], "narrow: range [", start, ", ", end,
            ") out of bounds for dim ", d, " of size ", sizes()[d], " in shape ", shape_str());
  Shape s = sizes();
  s[d] = length;
  Tensor out = make_view(*this, s, strides(), offset() + start * strides()[d]);
  Shape in_shape = sizes();
  DType dt = dtype();
  Device dev = device();
  record("narrow", {*this}, out, [in_shape, dt, dev, d, start, length](const Tensor& g) {
    Tensor full = ops::zeros(in_shape, dt, dev);
    Tensor window = full.narrow(d, start, length);
    ops::copy_(window, g);
    return std::vector<Tensor>{full};
  });
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  TRT_CHECK(dim() > 0, "select: tensor of shape () has no dims");
  d = wrap_dim(d, dim(), "select");
  if (index < 0) index += sizes()[d];
  TRT_CHECK(index >= 0 && index < sizes()[d], "select: index ", index, " out of range for dim ", d, " of size ",
            sizes()[d]);
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& requested) const {
  TRT_CHECK(requested.size() >= sizes().size(), "expand: cannot expand ", shape_str(), " to fewer dims ",
            trainrt::shape_str(requested));
  size_t lead = requested.size() - sizes().size();
  Shape s(requested.size()), st(requested.size());
  for (size_t i = 0; i < requested.size(); ++i) {
    if (i < lead) {
      TRT_CHECK(requested[i] >= 0, "expand: size -1 not allowed for new leading dim in ", trainrt::shape_str(requested));
      s[i] = requested[i];
      st[i] = 0;
      continue;
    }
    int64_t have = sizes()[i - lead];
    int64_t want = requested[i] == -1 ? have : requested[i];
    TRT_CHECK(have == want || have == 1, "expand: cannot expand ", shape_str(), " to ", trainrt::shape_str(requested),
              " (dim ", i, ": ", have, " vs ", want, ")");
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  Tensor out = make_view(*this, s, st, offset());
  Shape in_shape = sizes();
  record("expand", {*this}, out, [in_shape](const Tensor& g) { return std::vector<Tensor>{ops::sum_to(g, in_shape)}; });
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = sizes(), st = strides();
  int64_t stride = d < dim() ? st[d] * s[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Tensor out = make_view(*this, s, st, offset());
  Shape in_shape = sizes();
  record("unsqueeze", {*this}, out, [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || sizes()[d] != 1) return *this;  // a 0-dim tensor has nothing to squeeze
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, offset());
  Shape in_shape = sizes();
  record("squeeze", {*this}, out, [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  TRT_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
  Shape s(sizes().begin(), sizes().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) merged *= sizes()[i];
  s.push_back(merged);
  s.insert(s.end(), sizes().begin() + end_dim + 1, sizes().end());
  return reshape(s);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : ops::contiguous(*this); }
Tensor Tensor::clone() const { return ops::contiguous(*this); }
Tensor Tensor::to(DType dtype) const { return dtype == this->dtype() ? *this : ops::to_dtype(*this, dtype); }
Tensor Tensor::to(Device device) const { return device == this->device() ? *this : ops::to_device(*this, device); }

}  // namespace trainrt
