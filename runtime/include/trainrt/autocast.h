// Mixed precision, as torch.autocast(device_type="cpu", dtype=torch.bfloat16):
// under bfloat16 precision, conv2d, linear and matmul on float32 tensors take
// their operands (input, weight, bias) rounded to bfloat16 and give a result
// rounded to bfloat16; gradients flowing back through those roundings are
// rounded too, as the gradient of a bf16 tensor is bf16. Everything else (the
// loss, softmax, reductions, the optimizer, the float32 master weights) stays
// float32. Rounding keeps the values in float32 tensors, so the arithmetic is
// float32 over bf16 values: products of two bf16 numbers are exact in float32,
// so it is what bf16 hardware with float32 accumulation computes, up to the
// order of the sums. (Kernels that read bf16 storage, for CPUs with AVX512-BF16
// and for GPUs, are not written yet: docs/mixed-precision.md.)
// Set for the run by `trainrt train --precision bf16` (config `precision`), for
// a region by `trainrt.autocast("bf16", fn)`.
#pragma once
#include <string>

#include "trainrt/tensor.h"

namespace trainrt {

enum class Precision { Float32, BFloat16 };

Precision autocast_precision();
void set_autocast_precision(Precision precision);
// "fp32"/"float32" or "bf16"/"bfloat16"; anything else is an error naming the choices.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);  // "fp32", "bf16"

// Sets the precision for a scope and restores the previous one however it ends.
class PrecisionGuard {
 public:
  explicit PrecisionGuard(Precision p) : previous_(autocast_precision()) { set_autocast_precision(p); }
  ~PrecisionGuard() { set_autocast_precision(previous_); }
  PrecisionGuard(const PrecisionGuard&) = delete;
  PrecisionGuard& operator=(const PrecisionGuard&) = delete;

 private:
  Precision previous_;
};

namespace autocast {
// True when an op given float32 operands a and b should autocast them now: the
// precision is bfloat16 and this thread is not already inside an autocast op.
bool applies(const Tensor& a, const Tensor& b);
// Inside an autocast op: its inner call of itself runs as is.
class Suspend {
 public:
  Suspend();
  ~Suspend();
  Suspend(const Suspend&) = delete;
  Suspend& operator=(const Suspend&) = delete;

 private:
  bool previous_;
};
}  // namespace autocast

namespace ops {
// x rounded to bfloat16 values (float32 in, float32 out). Backward rounds the
// gradient the same way: the rounding stands for a cast to bf16, whose
// gradient is a bf16 tensor (a straight-through estimator, as a cast's).
Tensor round_bf16(const Tensor& x);
}  // namespace ops

}  // namespace trainrt
