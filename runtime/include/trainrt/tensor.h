// Tensor: storage + offset + sizes + strides + dtype, with autograd metadata.
// A Tensor is a cheap handle (shared_ptr to TensorImpl); views share storage.
// The math lives in ops.h; this file holds the data model and view operations.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/device.h"
#include "trainrt/dtype.h"
#include "trainrt/shape.h"
#include "trainrt/storage.h"

namespace trainrt {

class Node;  // autograd graph node (autograd.h)
class Tensor;

struct TensorImpl {
  StoragePtr storage;
  int64_t offset = 0;  // in elements
  Shape sizes;
  Shape strides;
  DType dtype = DType::Float32;

  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;        // accumulated .grad (leaf tensors)
  std::shared_ptr<Node> grad_fn;           // node that produced this tensor (non-leaf)
  std::weak_ptr<Node> grad_accumulator;    // shared AccumulateGrad node (leaf)
  // Run after backward accumulated into .grad (leaves only; see autograd.h).
  std::vector<std::pair<uint64_t, std::function<void()>>> grad_ready_hooks;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised contiguous tensor.
  static Tensor empty(const Shape& sizes, DType dtype = DType::Float32, Device device = Device::cpu());
  // Copies host values into a new CPU tensor of `dtype`.
  static Tensor from_vector(const std::vector<double>& values, const Shape& sizes, DType dtype = DType::Float32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_of(impl().sizes); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  const StoragePtr& storage() const { return impl().storage; }
  bool is_contiguous() const;
  bool same_storage(const Tensor& other) const { return storage() == other.storage(); }

  // Address of element 0 for the host: waits until every kernel launched on
  // this memory has run (trainrt/stream.h), so the host reads final values and
  // its writes cannot race a queued kernel.
  void* data_ptr() const;
  // The same address without waiting: for describing the tensor to a kernel
  // that is launched on the queue after those already there.
  void* kernel_data_ptr() const;
  template <typename T> T* data() const { return static_cast<T*>(data_ptr()); }

  // Host copy of the values as double (any dtype, any device); for tests and printing.
  std::vector<double> to_vector() const;
  double item() const;  // one-element tensor -> value; throws otherwise

  // autograd
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool value);  // only on leaves of floating dtype
  Tensor grad() const;                    // undefined when none accumulated yet
  void set_grad(const Tensor& grad);
  void zero_grad();                       // drops .grad (like set_to_none=True)
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // shares storage, no grad history

  // Views (share storage; differentiable). Each throws with both shapes on misuse.
  Tensor view(const Shape& sizes) const;     // needs compatible strides; -1 infers one size
  Tensor reshape(const Shape& sizes) const;  // view when possible, else copies
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes `dim`
  Tensor expand(const Shape& sizes) const;          // -1 keeps a size; new leading dims allowed
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // Copies (differentiable).
  Tensor contiguous() const;  // self when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;

  std::string shape_str() const { return trainrt::shape_str(sizes()); }
  std::string str() const;  // values formatted like PyTorch's repr

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A view of `base` with new geometry (no autograd recorded; used by view ops).
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset);

}  // namespace trainrt
