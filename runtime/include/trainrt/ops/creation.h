// Creation, copies and seeded randomness. One generator per device: a seed and
// a counter; kernels draw counter-based numbers (kernel_math.h) so CPU and CUDA
// produce the same values for the same seed. The generators are safe to read,
// advance and reseed from several threads (data workers, device queues): every
// call takes one lock and hands out copies, never references.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt {

void manual_seed(uint64_t seed);  // reseeds every device's generator
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // counters consumed so far
  bool operator==(const GeneratorState&) const = default;
};
// A copy of the device's generator (created with the default seed on first use).
GeneratorState generator(Device device);
// Reserves `count` counters: returns the seed and the first counter of the range
// (one atomic step, so a concurrent manual_seed cannot split seed from offset).
GeneratorState generator_advance(Device device, uint64_t count);

// Checkpoints: the seed new generators start from, every generator in use, and
// putting them back (replaces all generators, like manual_seed then advances).
struct GeneratorSnapshot {
  uint64_t default_seed = 0;
  std::vector<std::pair<Device, GeneratorState>> devices;
};
GeneratorSnapshot generator_snapshot();
void restore_generators(const GeneratorSnapshot& snapshot);

namespace ops {

Tensor zeros(const Shape& sizes, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& sizes, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor full(const Shape& sizes, double value, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor scalar_like(const Tensor& like, double value);  // 0-dim, same dtype/device
Tensor arange(double start, double end, double step = 1, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor rand(const Shape& sizes, double low = 0, double high = 1, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor randn(const Shape& sizes, double mean = 0, double std = 1, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// In-place fills (not recorded by autograd; refuse leaves that require grad
// while grad mode is on).
Tensor& fill_(Tensor& t, double value);
Tensor& uniform_(Tensor& t, double low, double high);
Tensor& normal_(Tensor& t, double mean, double std);
// PyTorch's defaults for Linear/Conv weights: kaiming_uniform(a=sqrt(5)), fan_in from dims 1..
Tensor& kaiming_uniform_(Tensor& t, double a = 2.23606797749979);

// dst <- src (broadcast to dst's shape; dtype converted; same device).
Tensor& copy_(Tensor& dst, const Tensor& src);
// Differentiable copy into a new contiguous tensor of another dtype/device.
Tensor to_dtype(const Tensor& t, DType dtype);
Tensor to_device(const Tensor& t, Device device);
Tensor contiguous(const Tensor& t);

}  // namespace ops
}  // namespace trainrt
