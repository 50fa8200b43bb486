// bfloat16 autocast (trainrt/autocast.h): the run's precision, the per-thread
// suspension inside an autocast op, and the rounding op.
#include "trainrt/autocast.h"

#include <atomic>

#include "trainrt/autograd.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"

namespace trainrt {
namespace {
std::atomic<Precision> g_precision{Precision::Float32};
thread_local bool t_inside_autocast_op = false;
}  // namespace

Precision autocast_precision() { return g_precision.load(); }
void set_autocast_precision(Precision precision) { g_precision.store(precision); }

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return Precision::Float32;
  if (name == "bf16" || name == "bfloat16") return Precision::BFloat16;
  throw Error("precision must be fp32 or bf16, got '" + name + "'");
}

const char* precision_name(Precision precision) { return precision == Precision::BFloat16 ? "bf16" : "fp32"; }

namespace autocast {
bool applies(const Tensor& a, const Tensor& b) {
  return g_precision.load() == Precision::BFloat16 && !t_inside_autocast_op && a.defined() && b.defined() &&
         a.dtype() == DType::Float32 && b.dtype() == DType::Float32;
}
Suspend::Suspend() : previous_(t_inside_autocast_op) { t_inside_autocast_op = true; }
Suspend::~Suspend() { t_inside_autocast_op = previous_; }
}  // namespace autocast

namespace ops {
Tensor round_bf16(const Tensor& x) {
  CurrentOp scope("round_bf16");
  TRT_CHECK(x.defined() && x.dtype() == DType::Float32, "round_bf16: needs a float32 tensor, got ",
            x.defined() ? dtype_name(x.dtype()) : "an undefined one");
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel()) call_kernel("round_bf16", {x.detach()}, {out});
  // forward: y = bf16(x)  =>  dx = bf16(dy) (the gradient of a bf16 tensor is bf16)
  record("round_bf16", {x}, out, [](const Tensor& g) { return std::vector<Tensor>{round_bf16(g.contiguous())}; });
  return out;
}
}  // namespace ops

}  // namespace trainrt
