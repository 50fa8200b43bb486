// Creation, fills, copies and the per-device seeded generators.
#include "trainrt/capture.h"
#include "trainrt/ops/creation.h"

#include <cmath>
#include <map>
#include <mutex>

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/stream.h"
#include "trainrt/ops/reduce.h"

namespace trainrt {
namespace {

// Every generator and the default seed live behind one mutex; callers only
// ever get copies (a reference would dangle when manual_seed clears the map).
std::mutex g_generator_mutex;
std::map<std::pair<int, int>, GeneratorState>& generators() {
  static std::map<std::pair<int, int>, GeneratorState> g;
  return g;
}
uint64_t g_default_seed = 0x5eed;

// The device's generator, created with the default seed; call with the mutex held.
GeneratorState& generator_locked(Device device) {
  auto [it, inserted] = generators().try_emplace({static_cast<int>(device.type), device.index});
  if (inserted) it->second.seed = g_default_seed;
  return it->second;
}

void check_fillable(const Tensor& t, const char* op) {
  TRT_CHECK(!(grad_enabled() && t.requires_grad() && t.is_leaf()), op,
            ": in-place change of a leaf tensor that requires grad; do it inside no_grad");
}

}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard lock(g_generator_mutex);
  g_default_seed = seed;
  generators().clear();
}

GeneratorState generator(Device device) {
  std::lock_guard lock(g_generator_mutex);
  return generator_locked(device);
}

GeneratorState generator_advance(Device device, uint64_t count) {
  capture::on_random_draw();
  std::lock_guard lock(g_generator_mutex);
  GeneratorState& g = generator_locked(device);
  GeneratorState drawn{g.seed, g.offset};
  g.offset += count;
  return drawn;
}

GeneratorSnapshot generator_snapshot() {
  std::lock_guard lock(g_generator_mutex);
  GeneratorSnapshot snapshot;
  snapshot.default_seed = g_default_seed;
  for (const auto& [key, state] : generators())
    snapshot.devices.emplace_back(Device{static_cast<DeviceType>(key.first), key.second}, state);
  return snapshot;
}

void restore_generators(const GeneratorSnapshot& snapshot) {
  std::lock_guard lock(g_generator_mutex);
  g_default_seed = snapshot.default_seed;
  generators().clear();
  for (const auto& [device, state] : snapshot.devices)
    generators()[{static_cast<int>(device.type), device.index}] = state;
}

namespace {

// Reserves `pairs` counter pairs (2i, 2i+1), as normal01 reads them, starting at
// the first even counter not yet used; returns the seed and the first pair's
// index. Rounding up matters after an odd-sized uniform draw: offset / 2 would
// reuse its last counter.
GeneratorState reserve_pairs(Device device, uint64_t pairs) {
  std::lock_guard lock(g_generator_mutex);
  GeneratorState& g = generator_locked(device);
  uint64_t first = (g.offset + 1) / 2;
  g.offset = 2 * (first + pairs);
  return {g.seed, first};
}

}  // namespace

namespace ops {

Tensor full(const Shape& sizes, double value, DType dtype, Device device) {
  Tensor t = Tensor::empty(sizes, dtype, device);
  if (t.numel()) call_kernel("fill", {}, {t}, {}, {value});
  return t;
}
Tensor zeros(const Shape& sizes, DType dtype, Device device) { return full(sizes, 0.0, dtype, device); }
Tensor ones(const Shape& sizes, DType dtype, Device device) { return full(sizes, 1.0, dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.dtype(), t.device()); }
Tensor scalar_like(const Tensor& like, double value) { return full({}, value, like.dtype(), like.device()); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  TRT_CHECK(step != 0, "arange: step must not be zero");
  double count = std::ceil((end - start) / step);
  TRT_CHECK(count >= 0 && count < 1e12, "arange: empty or huge range from ", start, " to ", end, " by ", step);
  Tensor t = Tensor::empty({static_cast<int64_t>(count)}, dtype, device);
  if (t.numel()) call_kernel("arange", {}, {t}, {}, {start, step});
  return t;
}

Tensor& fill_(Tensor& t, double value) {
  check_fillable(t, "fill_");
  if (t.numel()) call_kernel("fill", {}, {t}, {}, {value});
  return t;
}

Tensor& uniform_(Tensor& t, double low, double high) {
  check_fillable(t, "uniform_");
  TRT_CHECK(is_floating(t.dtype()), "uniform_: needs a floating tensor, got ", dtype_name(t.dtype()));
  TRT_CHECK(low <= high, "uniform_: low ", low, " > high ", high);
  GeneratorState drawn = generator_advance(t.device(), static_cast<uint64_t>(t.numel()));
  if (t.numel())
    call_kernel("uniform", {}, {t}, {static_cast<int64_t>(drawn.seed), static_cast<int64_t>(drawn.offset)},
                {low, high});
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std) {
  check_fillable(t, "normal_");
  TRT_CHECK(is_floating(t.dtype()), "normal_: needs a floating tensor, got ", dtype_name(t.dtype()));
  TRT_CHECK(std >= 0, "normal_: std must be >= 0, got ", std);
  GeneratorState drawn = reserve_pairs(t.device(), static_cast<uint64_t>(t.numel()));  // offset: first pair
  if (t.numel())
    call_kernel("normal", {}, {t}, {static_cast<int64_t>(drawn.seed), static_cast<int64_t>(drawn.offset)},
                {mean, std});
  return t;
}

Tensor& kaiming_uniform_(Tensor& t, double a) {
  TRT_CHECK(t.dim() >= 2, "kaiming_uniform_: needs at least 2 dims (out, in, ...), got ", t.shape_str());
  if (t.numel() == 0) return t;  // nothing to fill; fan_in would divide by a zero size
  int64_t fan_in = t.numel() / t.size(0);
  double gain = std::sqrt(2.0 / (1 + a * a));
  double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in));
  return uniform_(t, -bound, bound);
}

Tensor rand(const Shape& sizes, double low, double high, DType dtype, Device device) {
  Tensor t = Tensor::empty(sizes, dtype, device);
  return uniform_(t, low, high);
}

Tensor randn(const Shape& sizes, double mean, double std, DType dtype, Device device) {
  Tensor t = Tensor::empty(sizes, dtype, device);
  return normal_(t, mean, std);
}

Tensor& copy_(Tensor& dst, const Tensor& src) {
  check_fillable(dst, "copy_");
  TRT_CHECK(dst.device() == src.device(), "copy_: source on ", src.device().str(), ", destination on ",
            dst.device().str(), "; use :to(device)");
  Tensor from = src.sizes() == dst.sizes() ? src : src.detach().expand(dst.sizes());
  if (dst.numel()) call_kernel("copy", {from}, {dst});
  return dst;
}

Tensor contiguous(const Tensor& t) {
  Tensor out = Tensor::empty(t.sizes(), t.dtype(), t.device());
  if (t.numel()) call_kernel("copy", {t}, {out});
  record("contiguous", {t}, out, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  Tensor out = Tensor::empty(t.sizes(), dtype, t.device());
  if (t.numel()) call_kernel("copy", {t}, {out});
  if (is_floating(dtype)) {
    DType from = t.dtype();
    record("to_dtype", {t}, out, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
  }
  return out;
}

Tensor to_device(const Tensor& t, Device device) {
  Tensor src = t.contiguous();
  Tensor out = Tensor::empty(t.sizes(), t.dtype(), device);
  // The non-CPU side's allocator knows how to move bytes to and from the host.
  Allocator& mover = allocator_for(device.type == DeviceType::CPU ? src.device().type : device.type);
  // On the destination's queue, after the source's queue has produced src (a
  // stream waiting on another stream's event): only as far as the last kernel
  // that used src, not everything launched there since. The host does not wait.
  Device from_device = src.device();
  queue_wait(device, from_device, src.storage()->last_use(from_device));
  size_t bytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
  StoragePtr src_storage = src.storage(), out_storage = out.storage();
  void* dst_ptr = out.kernel_data_ptr();
  const void* src_ptr = src.kernel_data_ptr();
  uint64_t position = launch(device, "copy " + t.shape_str() + " from " + from_device.str() + " to " + device.str(),
                             [&mover, dst_ptr, device, src_ptr, from_device, bytes, src_storage, out_storage] {
                               mover.copy(dst_ptr, device, src_ptr, from_device, bytes);
                             });
  if (position) {
    src_storage->note_use(device, position);
    out_storage->note_use(device, position);
  }
  Device from = t.device();
  record("to_device", {t}, out, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
  return out;
}

}  // namespace ops
}  // namespace trainrt
