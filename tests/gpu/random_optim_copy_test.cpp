// Randomness, optimizer steps, creation, copies and cat on cuda:0 against the
// CPU. The random kernels are counter-based (kernel_math.h), so one seed gives
// the CPU's numbers: the dropout mask and uniform [0, 1) bit for bit; uniform
// [low, high) and normal to rounding, because nvcc may contract
// low + (high - low) * u into an FMA and CUDA's log/cos are not glibc's.
// Also copies cuda:0 <-> cuda:1 when two GPUs are visible.
#include "gpu/gpu_util.h"

namespace trainrt {
namespace {

using test::cuda;
using test::expect_matches;
using test::expect_same_on_cuda;
using test::input;
using test::outputs;
using test::whole_numbers;

// fill(device) after manual_seed(seed), as a CPU tensor for comparison.
template <typename Fill>
std::pair<Tensor, Tensor> drawn_on_both(uint64_t seed, Fill fill) {
  manual_seed(seed);
  Tensor on_cpu = fill(Device::cpu());
  manual_seed(seed);
  Tensor on_cuda = fill(cuda());
  return {on_cuda, on_cpu};
}

TEST(GpuRandom, UniformFromZeroToOneAndTheDropoutMaskAreTheCpusBitForBit) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes()) {
    std::string d = dtype_name(dt);
    auto [u_cuda, u_cpu] = drawn_on_both(7, [&](Device dev) { return ops::rand({1000, 37}, 0, 1, dt, dev); });
    expect_matches(u_cuda, u_cpu, 0, "rand [0, 1) " + d);
    // dropout(ones) is the mask itself: 0 or 1/(1-p), from counter offset + i.
    for (double p : {0.1, 0.5, 0.9}) {
      auto [m_cuda, m_cpu] = drawn_on_both(11, [&](Device dev) { return ops::dropout(ops::ones({257, 129}, dt, dev), p); });
      expect_matches(m_cuda, m_cpu, 0, "dropout mask p=" + std::to_string(p) + " " + d);
    }
    // The second draw continues from the same counter on both devices.
    auto [two_cuda, two_cpu] = drawn_on_both(13, [&](Device dev) {
      Tensor first = ops::dropout(ops::ones({100}, dt, dev), 0.5);
      return ops::cat({first, ops::rand({100}, 0, 1, dt, dev)}, 0);
    });
    expect_matches(two_cuda, two_cpu, 0, "dropout then rand " + d);
  }
}

TEST(GpuRandom, UniformRangesAndNormalMatchTheCpuToRounding) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes()) {
    std::string d = dtype_name(dt);
    double tol = dt == DType::Float64 ? 1e-13 : 2.4e-7;  // a few float64 ulps; one float32 ulp
    auto [u_cuda, u_cpu] = drawn_on_both(3, [&](Device dev) { return ops::rand({4096}, -2.5, 7, dt, dev); });
    expect_matches(u_cuda, u_cpu, tol, "rand [-2.5, 7) " + d);
    auto [n_cuda, n_cpu] = drawn_on_both(5, [&](Device dev) { return ops::randn({4096}, 1.5, 3, dt, dev); });
    expect_matches(n_cuda, n_cpu, tol, "randn(1.5, 3) " + d);
    auto [f_cuda, f_cpu] = drawn_on_both(9, [&](Device dev) {
      Tensor t = Tensor::empty({64, 65}, dt, dev);
      ops::normal_(t, 0, 1);
      ops::uniform_(t, -1, 1);  // consumes counters after normal_'s pairs
      return t;
    });
    expect_matches(f_cuda, f_cpu, tol, "normal_ then uniform_ " + d);
  }
  manual_seed(21);
  ops::randn({1000}, 0, 1, DType::Float32, cuda());
  ops::randn({1000}, 0, 1, DType::Float32, Device::cpu());
  EXPECT_EQ(generator(cuda()), generator(Device::cpu())) << "both generators advance by the same counters";
}

// Runs `steps` optimizer steps on copies of the same tensors on each device.
struct OptimState {
  Tensor param, buf1, buf2;
};

TEST(GpuOptim, SgdStepsMatchTheCpu) {
  REQUIRE_CUDA();
  const std::vector<std::pair<const char*, ops::SgdOptions>> cases = {
      {"plain", {.lr = 0.1}},
      {"momentum", {.lr = 0.05, .momentum = 0.9}},
      {"momentum dampening weight decay", {.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01}},
      {"nesterov", {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true}},
  };
  for (DType dt : test::floating_dtypes())
    for (const auto& [name, options] : cases) {
      std::string what = std::string("sgd ") + name + " " + dtype_name(dt);
      Tensor p0 = input({33, 17}, dt, -1, 1, false);
      std::vector<Tensor> grads;
      for (int s = 0; s < 3; ++s) grads.push_back(input({33, 17}, dt, -1, 1, false));
      OptimState on[2];
      Device devices[2] = {Device::cpu(), cuda()};
      for (int k = 0; k < 2; ++k) {
        on[k].param = p0.to(devices[k]).clone();
        on[k].buf1 = ops::zeros({33, 17}, dt, devices[k]);
        for (int s = 0; s < 3; ++s) ops::sgd_step(on[k].param, grads[s].to(devices[k]), on[k].buf1, options, s == 0);
      }
      expect_matches(on[1].param, on[0].param, what + " param");
      if (options.momentum != 0) expect_matches(on[1].buf1, on[0].buf1, what + " momentum buffer");
    }
}

TEST(GpuOptim, AdamAndAdamWStepsMatchTheCpu) {
  REQUIRE_CUDA();
  const std::vector<std::pair<const char*, ops::AdamOptions>> cases = {
      {"adam", {.lr = 1e-2}},
      {"adam weight decay", {.lr = 1e-2, .weight_decay = 0.1}},
      {"adamw", {.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1, .decoupled_weight_decay = true}},
  };
  for (DType dt : test::floating_dtypes())
    for (const auto& [name, options] : cases) {
      std::string what = std::string(name) + " " + dtype_name(dt);
      Tensor p0 = input({1000}, dt, -1, 1, false);
      std::vector<Tensor> grads;
      for (int s = 0; s < 4; ++s) grads.push_back(input({1000}, dt, -1, 1, false));
      OptimState on[2];
      Device devices[2] = {Device::cpu(), cuda()};
      for (int k = 0; k < 2; ++k) {
        on[k].param = p0.to(devices[k]).clone();
        on[k].buf1 = ops::zeros({1000}, dt, devices[k]);
        on[k].buf2 = ops::zeros({1000}, dt, devices[k]);
        for (int s = 0; s < 4; ++s)
          ops::adam_step(on[k].param, grads[s].to(devices[k]), on[k].buf1, on[k].buf2, options, s + 1);
      }
      expect_matches(on[1].param, on[0].param, what + " param");
      expect_matches(on[1].buf1, on[0].buf1, what + " exp_avg");
      expect_matches(on[1].buf2, on[0].buf2, what + " exp_avg_sq");
    }
}

TEST(GpuCopy, EveryDtypePairConvertsAsOnTheCpu) {
  REQUIRE_CUDA();
  const std::vector<DType> dtypes = {DType::Float32, DType::Float64, DType::Int64, DType::UInt8};
  for (DType from : dtypes) {
    // uint8 targets get values in [0, 250); the others also negatives and fractions (float -> int truncates).
    Tensor values = ops::rand({7, 9}, from == DType::UInt8 ? 0 : -100, 250, DType::Float64).to(from);
    Tensor non_negative = ops::rand({7, 9}, 0, 250, DType::Float64).to(from);
    for (DType to : dtypes) {
      Tensor src = to == DType::UInt8 ? non_negative : values;
      std::string what = std::string(dtype_name(from)) + " -> " + dtype_name(to);
      expect_same_on_cuda(what, [to](const std::vector<Tensor>& in) { return outputs(in[0].to(to)); }, {src},
                          {.tol = 0, .backward = false});
      expect_same_on_cuda(what + " transposed",
                          [to](const std::vector<Tensor>& in) { return outputs(in[0].t().to(to)); }, {src},
                          {.tol = 0, .backward = false});
    }
  }
}

TEST(GpuCopy, HostDeviceRoundTripsKeepValuesAndViews) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
    Tensor x = whole_numbers({6, 10}, 200, dt);
    for (const auto& [name, view] : std::vector<std::pair<const char*, Tensor>>{
             {"contiguous", x}, {"transposed", x.t()}, {"narrowed", x.narrow(1, 3, 5)}, {"expanded", x.select(0, 2).expand({4, 10})}}) {
      Tensor there = view.to(cuda());
      EXPECT_EQ(there.device(), cuda());
      EXPECT_EQ(there.sizes(), view.sizes()) << name;
      EXPECT_EQ(there.to(Device::cpu()).to_vector(), view.to_vector()) << name << " " << dtype_name(dt);
    }
  }
  // copy_ on the device: broadcast source into a transposed destination, with a dtype change.
  expect_same_on_cuda("copy_ broadcast into a transposed destination",
                      [](const std::vector<Tensor>& in) {
                        Tensor dst = ops::zeros({5, 4}, DType::Float64, in[0].device());
                        Tensor view = dst.t();
                        ops::copy_(view, in[0]);
                        return outputs(dst);
                      },
                      {input({5}, DType::Float32, -1, 1, false)}, {.tol = 0, .backward = false});
  // Gradients flow back across the device boundary.
  Tensor leaf = input({3, 4}, DType::Float64);
  Tensor y = ops::mul(leaf.to(cuda()), 2.0);
  ops::sum(y.to(Device::cpu())).backward();
  ASSERT_TRUE(leaf.grad().defined());
  EXPECT_EQ(leaf.grad().device(), Device::cpu());
  EXPECT_EQ(leaf.grad().to_vector(), std::vector<double>(12, 2.0));
}

TEST(GpuCreation, FillsAndRangesMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
    std::string d = dtype_name(dt);
    expect_matches(ops::zeros({3, 5}, dt, cuda()), ops::zeros({3, 5}, dt), 0, "zeros " + d);
    expect_matches(ops::ones({3, 5}, dt, cuda()), ops::ones({3, 5}, dt), 0, "ones " + d);
    expect_matches(ops::full({1025}, 7, dt, cuda()), ops::full({1025}, 7, dt), 0, "full " + d);
    expect_matches(ops::arange(0, 200, 3, dt, cuda()), ops::arange(0, 200, 3, dt), 0, "arange " + d);
    Tensor t = ops::zeros({4, 6}, dt, cuda());
    Tensor view = t.narrow(1, 1, 3);
    ops::fill_(view, 5);
    Tensor e = ops::zeros({4, 6}, dt);
    Tensor e_view = e.narrow(1, 1, 3);
    ops::fill_(e_view, 5);
    expect_matches(t, e, 0, "fill_ of a narrowed view " + d);
  }
  expect_matches(ops::arange(-1, 1, 0.125, DType::Float64, cuda()), ops::arange(-1, 1, 0.125, DType::Float64), 0,
                 "fractional arange");
}

TEST(GpuJoin, CatAlongEveryDimMatchesTheCpuForwardAndBackward) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64})
    for (int64_t dim : {0, 1, 2, -1}) {
      std::string what = std::string("cat ") + dtype_name(dt) + " dim " + std::to_string(dim);
      Shape a = {2, 3, 4}, b = a, c = a;
      b[static_cast<size_t>(dim < 0 ? 2 : dim)] = 5;
      c[static_cast<size_t>(dim < 0 ? 2 : dim)] = 1;
      auto make = [dt](const Shape& s) { return is_floating(dt) ? input(s, dt) : whole_numbers(s, 100, dt); };
      expect_same_on_cuda(what, [dim](const std::vector<Tensor>& in) { return outputs(ops::cat(in, dim)); },
                          {make(a), make(b), make(c)});
      // A transposed input: stored (4, 3, 2), read as (2, 3, 4).
      expect_same_on_cuda(what + " with a transposed input",
                          [dim](const std::vector<Tensor>& in) {
                            return outputs(ops::cat({in[0].permute({2, 1, 0}), in[1], in[2]}, dim));
                          },
                          {make({4, 3, 2}), make(b), make(c)});
    }
}

TEST(GpuTwoDevices, CopiesBetweenGpusAndOpsOnTheSecondMatchTheCpu) {
  REQUIRE_CUDA_DEVICES(2);
  for (DType dt : test::floating_dtypes()) {
    Tensor x = input({64, 33}, dt, -1, 1, false), w = input({16, 33}, dt, -1, 1, false);
    Tensor on1 = x.to(cuda(0)).to(cuda(1));
    EXPECT_EQ(on1.device(), cuda(1));
    EXPECT_EQ(on1.to(Device::cpu()).to_vector(), x.to_vector()) << "cuda:0 -> cuda:1 copy";
    EXPECT_EQ(on1.t().to(cuda(0)).to(Device::cpu()).to_vector(), x.t().to_vector()) << "strided cuda:1 -> cuda:0";
    Tensor y1 = ops::relu(ops::linear(on1, w.to(cuda(1))));
    EXPECT_EQ(y1.device(), cuda(1));
    Tensor y_cpu = ops::relu(ops::linear(x, w));
    Tensor y_back = y1.to(cuda(0));  // expect_matches wants a CUDA tensor; which one does not matter
    expect_matches(y_back, y_cpu, std::string("linear+relu on cuda:1 ") + dtype_name(dt));
  }
  // An op mixing devices is refused with both devices named, not silently copied.
  Tensor a = ops::ones({3}, DType::Float32, cuda(0)), b = ops::ones({3}, DType::Float32, cuda(1));
  EXPECT_ERROR_CONTAINS(ops::add(a, b), "tensors on different devices cuda:0 and cuda:1");
}

}  // namespace
}  // namespace trainrt
