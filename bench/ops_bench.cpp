// trainrt_bench: how fast the CPU ops run compared with this machine's own
// sgemm, measured in the same run. Benchmarks: raw cblas_sgemm (1024^3 and the
// seed CNN's GEMM shapes), ops::matmul, conv2d forward/backward on the seed
// CNN's layers at batch 64, and the seed CNN's full training step (forward,
// cross_entropy, backward, adam_step). Each reports GFLOP/s and pct_of_sgemm;
// main prints a summary against the 1024^3 sgemm rate at the end.
// Threads: --threads=N or TRAINRT_THREADS (default: all cores).
// Deliberately not here: data loading, Lua, the trainrt CLI (see `trainrt bench`).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "trainrt/autograd.h"
#include "trainrt/dispatch.h"
#include "trainrt/ops.h"
#include "trainrt/plugins.h"
#include "trainrt/stream.h"

namespace {

using namespace trainrt;
using Clock = std::chrono::steady_clock;

double g_sgemm_gflops = 0;                    // raw cblas_sgemm 1024^3, measured in main
std::map<std::string, double> g_results;      // benchmark name -> GFLOP/s, for the summary

// Times the benchmark loop itself so the counters can be compared with sgemm.
// `name` + the benchmark's args, e.g. "sgemm/64/12544/288" (State has no name() in benchmark 1.7).
template <typename Body>
void run_timed(benchmark::State& state, const char* name, int n_args, double flops_per_iter, Body&& body) {
  auto t0 = Clock::now();
  for (auto _ : state) body();
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double gflops = flops_per_iter * static_cast<double>(state.iterations()) / seconds / 1e9;
  state.counters["GFLOP/s"] = gflops;
  state.counters["pct_of_sgemm"] = g_sgemm_gflops > 0 ? 100.0 * gflops / g_sgemm_gflops : 0;
  std::string key = name;
  for (int i = 0; i < n_args; ++i) key += "/" + std::to_string(state.range(i));
  g_results[key] = gflops;
}

double sgemm_gflops(int64_t M, int64_t N, int64_t K, double min_seconds) {
  std::vector<float> a(M * K, 0.5f), b(K * N, 0.25f), c(M * N);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
  int64_t iters = 0;
  auto t0 = Clock::now();
  double seconds = 0;
  do {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    ++iters;
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (seconds < min_seconds);
  return 2.0 * M * N * K * iters / seconds / 1e9;
}

// Raw cblas_sgemm: (M, N, K) from the args.
void BM_sgemm(benchmark::State& state) {
  int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  std::vector<float> a(M * K, 0.5f), b(K * N, 0.25f), c(M * N);
  run_timed(state, "sgemm", 3, 2.0 * M * N * K, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  });
}
BENCHMARK(BM_sgemm)
    ->Args({1024, 1024, 1024})
    ->Args({64, 12544, 288})   // conv2 forward: W (64, 288) x cols (288, N*14*14)
    ->Args({32, 50176, 9})     // conv1 forward: W (32, 9) x cols (9, N*28*28)
    ->Args({64, 128, 3136})    // fc1 forward
    ->ArgNames({"M", "N", "K"})
    ->Unit(benchmark::kMillisecond);

// ops::matmul on float32: a (M, K) x b (K, N).
void BM_matmul(benchmark::State& state) {
  int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Tensor a = ops::rand({M, K}), b = ops::rand({K, N});
  run_timed(state, "matmul", 3, 2.0 * M * N * K, [&] { benchmark::DoNotOptimize(ops::matmul(a, b)); });
}
BENCHMARK(BM_matmul)->Args({1024, 1024, 1024})->Args({64, 128, 3136})->ArgNames({"M", "N", "K"})->Unit(benchmark::kMillisecond);

struct ConvLayer {
  int64_t N, C, H, W, O;  // 3x3 kernel, padding 1, stride 1: output (N, O, H, W)
  double macs() const { return static_cast<double>(N) * O * H * W * C * 9; }
};
// The seed CNN's two convolutions at batch 64.
const ConvLayer kConv[] = {{64, 1, 28, 28, 32}, {64, 32, 14, 14, 64}};

ops::Conv2dOptions pad1() {
  ops::Conv2dOptions o;
  o.padding = {1, 1};
  return o;
}

void BM_conv2d_forward(benchmark::State& state) {
  const ConvLayer& l = kConv[state.range(0)];
  Tensor x = ops::rand({l.N, l.C, l.H, l.W}), w = ops::rand({l.O, l.C, 3, 3}), b = ops::rand({l.O});
  run_timed(state, "conv2d_forward/layer", 1, 2 * l.macs(), [&] { benchmark::DoNotOptimize(ops::conv2d(x, w, b, pad1())); });
}
BENCHMARK(BM_conv2d_forward)->Arg(0)->Arg(1)->ArgName("layer")->Unit(benchmark::kMillisecond);

// Backward of one conv layer: dx (layer 1 only, as in training: the images need no
// gradient), dw and db, from a retained graph. FLOPs: 2 * macs per GEMM computed.
void BM_conv2d_backward(benchmark::State& state) {
  const ConvLayer& l = kConv[state.range(0)];
  bool need_dx = state.range(0) > 0;
  Tensor x = ops::rand({l.N, l.C, l.H, l.W}), w = ops::rand({l.O, l.C, 3, 3}), b = ops::rand({l.O});
  if (need_dx) x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = ops::conv2d(x, w, b, pad1());
  Tensor g = ops::rand(y.sizes());
  run_timed(state, "conv2d_backward/layer", 1, (need_dx ? 4 : 2) * l.macs(), [&] {
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    y.backward(g, /*retain_graph=*/true);
  });
}
BENCHMARK(BM_conv2d_backward)->Arg(0)->Arg(1)->ArgName("layer")->Unit(benchmark::kMillisecond);

// The seed CNN: Conv2d(1,32,3,p1)-ReLU-MaxPool(2)-Conv2d(32,64,3,p1)-ReLU-MaxPool(2)-Flatten-
// Linear(3136,128)-ReLU-Linear(128,10), cross entropy, Adam lr 1e-3, batch 64, 28x28.
struct SeedCnn {
  std::vector<Tensor> params, exp_avg, exp_avg_sq;
  int64_t step = 0;
  SeedCnn() {
    manual_seed(0);
    for (Shape s : {Shape{32, 1, 3, 3}, Shape{32}, Shape{64, 32, 3, 3}, Shape{64}, Shape{128, 3136}, Shape{128},
                    Shape{10, 128}, Shape{10}}) {
      Tensor p = ops::rand(s, -0.05, 0.05);
      if (s.size() > 1) ops::kaiming_uniform_(p);
      p.set_requires_grad(true);
      params.push_back(p);
      exp_avg.push_back(ops::zeros(s));
      exp_avg_sq.push_back(ops::zeros(s));
    }
  }
  Tensor forward(const Tensor& x) {  // x: (N, 1, 28, 28) -> logits (N, 10)
    ops::Pool2dOptions pool;
    Tensor h = ops::max_pool2d(ops::relu(ops::conv2d(x, params[0], params[1], pad1())), pool);  // (N, 32, 14, 14)
    h = ops::max_pool2d(ops::relu(ops::conv2d(h, params[2], params[3], pad1())), pool);         // (N, 64, 7, 7)
    h = ops::relu(ops::linear(h.flatten(1), params[4], params[5]));                              // (N, 128)
    return ops::linear(h, params[6], params[7]);                                                 // (N, 10)
  }
  double train_step(const Tensor& x, const Tensor& labels) {
    for (Tensor& p : params) p.zero_grad();
    Tensor loss = ops::cross_entropy(forward(x), labels);
    loss.backward();
    ++step;
    ops::AdamOptions adam;
    adam.lr = 1e-3;
    for (size_t i = 0; i < params.size(); ++i) ops::adam_step(params[i], params[i].grad(), exp_avg[i], exp_avg_sq[i], adam, step);
    return loss.item();
  }
  static double forward_macs(int64_t N) {
    return N * (32.0 * 28 * 28 * 1 * 9 + 64.0 * 14 * 14 * 32 * 9 + 3136.0 * 128 + 128.0 * 10);
  }
};

void BM_seed_cnn_train_step(benchmark::State& state) {
  const int64_t N = 64;
  SeedCnn model;
  Tensor x = ops::rand({N, 1, 28, 28});
  std::vector<double> labels(N);
  for (int64_t i = 0; i < N; ++i) labels[i] = static_cast<double>((i * 7) % 10);
  Tensor y = Tensor::from_vector(labels, {N}, DType::Int64);
  model.train_step(x, y);  // warm-up: scratch buffers, OpenBLAS threads
  double first = 0, last = 0;
  // Training FLOPs = 3 x forward multiply-adds x 2 (the convention).
  run_timed(state, "seed_cnn_train_step/batch64", 0, 3 * 2 * SeedCnn::forward_macs(N), [&] {
    last = model.train_step(x, y);
    if (first == 0) first = last;
  });
  state.counters["loss"] = last;
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_seed_cnn_train_step)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Memory-bound kernels on the seed CNN's first activation (64, 32, 28, 28) float32,
// called straight through the registry; "GFLOP/s" here counts elements (G/s) of
// the larger operand. The fused kernels (issue 12) run beside their compositions.
struct KernelCase {
  const char* name;
  double elements;
  std::function<void()> run;
};

std::vector<KernelCase>& kernel_cases() {
  static std::vector<KernelCase> cases = [] {
    const Shape act{64, 32, 28, 28}, pooled{64, 32, 14, 14};
    std::vector<int64_t> pool_attrs{2, 2, 2, 2, 0, 0};
    Tensor c = ops::randn(act), x = ops::relu(c), dy_act = ops::randn(act), other = ops::randn(act);
    Tensor y = ops::max_pool2d(x), dy = ops::randn(pooled);
    Tensor out = Tensor::empty(act), out2 = Tensor::empty(act), pout = Tensor::empty(pooled);
    double n = 64.0 * 32 * 28 * 28;
    std::vector<KernelCase> k;
    k.push_back({"relu", n, [=] { call_kernel("relu", {c}, {out}); }});
    k.push_back({"relu_backward", n, [=] { call_kernel("relu_backward", {dy_act, c}, {out}); }});
    k.push_back({"add", n, [=] { call_kernel("add", {c, other}, {out}); }});
    k.push_back({"mul", n, [=] { call_kernel("mul", {c, other}, {out}); }});
    k.push_back({"max_pool2d", n, [=] { call_kernel("max_pool2d", {x}, {pout}, pool_attrs); }});
    k.push_back({"max_pool2d_backward", n, [=] { call_kernel("max_pool2d_backward", {dy, x, y}, {out}, pool_attrs); }});
    k.push_back({"max_pool2d_backward+relu_backward", n, [=] {
                   call_kernel("max_pool2d_backward", {dy, x, y}, {out2}, pool_attrs);
                   call_kernel("relu_backward", {out2, c}, {out});
                 }});
    k.push_back({"max_pool2d_backward_relu", n, [=] {
                   call_kernel("max_pool2d_backward_relu", {dy, x, y}, {out}, pool_attrs);
                 }});
    return k;
  }();
  return cases;
}

void BM_kernel(benchmark::State& state) {
  const KernelCase& k = kernel_cases()[state.range(0)];
  state.SetLabel(k.name);
  if (std::strchr(k.name, '+') == nullptr && !has_kernel(k.name, DeviceType::CPU)) {
    state.SkipWithError("kernel not registered");
    return;
  }
  k.run();
  synchronize_all();
  run_timed(state, (std::string("kernel/") + k.name).c_str(), 0, k.elements, [&] {
    k.run();
    synchronize_all();
  });
}
BENCHMARK(BM_kernel)->DenseRange(0, 7)->ArgName("case")->Unit(benchmark::kMicrosecond);

// The seed CNN's 8 parameters (421642 elements): 8 adam_step launches vs one adam_step_multi.
void BM_adam(benchmark::State& state) {
  bool multi = state.range(0) != 0;
  if (multi && !has_kernel("adam_multi", DeviceType::CPU)) {
    state.SkipWithError("adam_multi not registered");
    return;
  }
  std::vector<Tensor> p, g, m, v;
  double elements = 0;
  for (Shape s : {Shape{32, 1, 3, 3}, Shape{32}, Shape{64, 32, 3, 3}, Shape{64}, Shape{128, 3136}, Shape{128},
                  Shape{10, 128}, Shape{10}}) {
    p.push_back(ops::randn(s));
    g.push_back(ops::randn(s));
    m.push_back(ops::zeros(s));
    v.push_back(ops::zeros(s));
    elements += static_cast<double>(p.back().numel());
  }
  ops::AdamOptions o;
  int64_t step = 0;
  run_timed(state, multi ? "adam/step_multi" : "adam/step_each", 0, elements, [&] {
    ++step;
    if (multi) ops::adam_step_multi(p, g, m, v, o, step);
    else
      for (size_t i = 0; i < p.size(); ++i) ops::adam_step(p[i], g[i], m[i], v[i], o, step);
    synchronize_all();
  });
}
BENCHMARK(BM_adam)->Arg(0)->Arg(1)->ArgName("multi")->Unit(benchmark::kMicrosecond);

int threads_from(int& argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const char* env = std::getenv("TRAINRT_THREADS")) threads = std::atoi(env);
  int w = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else argv[w++] = argv[i];
  }
  argc = w;
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = threads_from(argc, argv);
  trainrt::set_num_threads(threads);
  openblas_set_num_threads(threads);
  // load_plugins() sets OMP_WAIT_POLICY=passive before libgomp loads (see loader.cpp).
  trainrt::load_plugins();
  g_sgemm_gflops = sgemm_gflops(1024, 1024, 1024, 1.0);
  std::printf("trainrt_bench: threads=%d, sgemm 1024^3 = %.1f GFLOP/s (reference for pct_of_sgemm)\n", threads,
              g_sgemm_gflops);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\nsummary (threads=%d): sgemm 1024^3 = %.1f GFLOP/s measured before the benchmarks\n", threads,
              g_sgemm_gflops);
  for (const auto& [name, gflops] : g_results)
    std::printf("  %-48s %8.1f GFLOP/s  %5.1f%% of sgemm\n", name.c_str(), gflops, 100.0 * gflops / g_sgemm_gflops);
  return 0;
}
