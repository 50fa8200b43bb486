// cat: checks, one output allocation, one `copy` per input into a narrow view
// of the output; backward narrows the gradient. Not here: stack, split (a
// script narrows for that).
#include "trainrt/ops/join.h"

#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"

namespace trainrt::ops {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  TRT_CHECK(!tensors.empty(), "cat: expected at least one tensor, got none");
  const Tensor& first = tensors[0];
  TRT_CHECK(first.dim() > 0, "cat: tensor 1 has shape (): zero-dim tensors cannot be concatenated");
  const int64_t d = wrap_dim(dim, first.dim(), "cat");
  // out: first's shape with sizes[d] = sum of the inputs' sizes[d]
  Shape out_shape = first.sizes();
  out_shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    TRT_CHECK(t.defined(), "cat: tensor ", i + 1, " is undefined");
    TRT_CHECK(t.dtype() == first.dtype(), "cat: tensor ", i + 1, " is ", dtype_name(t.dtype()), ", tensor 1 ",
              dtype_name(first.dtype()), " (convert one first)");
    TRT_CHECK(t.device() == first.device(), "cat: tensor ", i + 1, " is on ", t.device().str(), ", tensor 1 on ",
              first.device().str(), " (move one with :to first)");
    bool same = t.dim() == first.dim();
    for (int64_t k = 0; same && k < t.dim(); ++k) same = k == d || t.sizes()[k] == first.sizes()[k];
    TRT_CHECK(same, "cat: tensor ", i + 1, " has shape ", t.shape_str(), ", tensor 1 ", first.shape_str(),
              ": sizes must match except in the dim joined");
    out_shape[d] += t.sizes()[d];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  {
    NoGradGuard no_grad;  // the copies are not recorded: cat's own node below stands for them
    int64_t start = 0;
    for (const Tensor& t : tensors) {
      const int64_t length = t.sizes()[d];
      if (length > 0) {
        Tensor window = out.narrow(d, start, length);
        copy_(window, t);
      }
      start += length;
    }
  }
  std::vector<int64_t> lengths;
  for (const Tensor& t : tensors) lengths.push_back(t.sizes()[d]);
  // forward: out = [t_1 | t_2 | ...] along d  =>  dt_i = dout[..., start_i : start_i + len_i, ...]
  record("cat", tensors, out, [d, lengths](const Tensor& g) {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (int64_t length : lengths) {
      grads.push_back(g.narrow(d, start, length));
      start += length;
    }
    return grads;
  });
  return out;
}

}  // namespace trainrt::ops
