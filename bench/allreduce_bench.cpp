// trainrt_allreduce_bench: a 25 MB float32 all-reduce through trainrt's
// coll-gloo plugin (ProcessGroup -> plugin ABI -> Gloo) against the same
// all-reduce made by calling Gloo directly, on N ranks as threads over
// loopback, interleaved in one run so machine noise hits both alike.
// Prints the median time per all-reduce, the bus bandwidth
// (2 (n-1)/n * bytes / time, as nccl-tests report it) and the ratio.
// Run: build/bin/trainrt_allreduce_bench [--ranks 2] [--mb 25] [--iters 10] [--rounds 9]
#include <gloo/allreduce.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/hash_store.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "trainrt/dist/process_group.h"
#include "trainrt/ops/creation.h"
#include "trainrt/plugins.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int ranks = 2;
  double mb = 25;
  int iters = 10;
  int rounds = 9;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--ranks") o.ranks = std::atoi(argv[i + 1]);
    else if (flag == "--mb") o.mb = std::atof(argv[i + 1]);
    else if (flag == "--iters") o.iters = std::atoi(argv[i + 1]);
    else if (flag == "--rounds") o.rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: trainrt_allreduce_bench [--ranks N] [--mb MB] [--iters N] [--rounds N]\n");
      std::exit(2);
    }
  }
  return o;
}

// Runs body(rank) on every rank's thread; returns rank 0's seconds per iteration.
double time_ranks(int ranks, const std::function<double(int)>& body) {
  std::vector<double> seconds(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) threads.emplace_back([&, r] { seconds[r] = body(r); });
  for (auto& t : threads) t.join();
  return *std::max_element(seconds.begin(), seconds.end());
}

// Gloo directly: a context per rank, then `iters` timed allreduces.
struct DirectGloo {
  std::vector<std::shared_ptr<gloo::Context>> contexts;
  explicit DirectGloo(int ranks) : contexts(ranks) {
    gloo::rendezvous::HashStore store;
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
      threads.emplace_back([&, r] {
        gloo::transport::tcp::attr attr("127.0.0.1");
        auto device = gloo::transport::tcp::CreateDevice(attr);
        auto context = std::make_shared<gloo::rendezvous::Context>(r, ranks);
        context->connectFullMesh(store, device);
        contexts[r] = context;
      });
    for (auto& t : threads) t.join();
  }
  double run(int rank, std::vector<float>& data, int iters, uint32_t& tag) {
    auto start = Clock::now();
    for (int i = 0; i < iters; ++i) {
      gloo::AllreduceOptions opts(contexts[rank]);
      opts.setOutput(data.data(), data.size());
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setTag(tag + i);
      gloo::allreduce(opts);
    }
    return std::chrono::duration<double>(Clock::now() - start).count() / iters;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  trainrt::load_plugins();
  const int64_t n = static_cast<int64_t>(o.mb * 1024 * 1024 / sizeof(float));
  const double bytes = static_cast<double>(n) * sizeof(float);

  auto store = trainrt::dist::make_memory_store();
  std::vector<std::shared_ptr<trainrt::dist::ProcessGroup>> groups(o.ranks);
  {
    std::vector<std::thread> threads;
    for (int r = 0; r < o.ranks; ++r)
      threads.emplace_back([&, r] {
        trainrt::dist::ProcessGroupOptions p;
        p.rank = r;
        p.world_size = o.ranks;
        p.store = store;
        p.local_address = "127.0.0.1";
        groups[r] = trainrt::dist::ProcessGroup::create(p);
      });
    for (auto& t : threads) t.join();
  }
  DirectGloo direct(o.ranks);
  std::vector<trainrt::Tensor> tensors;
  std::vector<std::vector<float>> buffers;
  for (int r = 0; r < o.ranks; ++r) {
    tensors.push_back(trainrt::ops::full({n}, 1.0f / (r + 1)));
    buffers.emplace_back(static_cast<size_t>(n), 1.0f / (r + 1));
  }

  std::vector<double> via_trainrt, via_gloo, ratios;
  uint32_t tag = 1;
  auto run_trainrt = [&] {
    return time_ranks(o.ranks, [&](int r) {
      auto start = Clock::now();
      for (int i = 0; i < o.iters; ++i) groups[r]->all_reduce(tensors[r], trainrt::dist::ReduceOp::Sum)->wait();
      return std::chrono::duration<double>(Clock::now() - start).count() / o.iters;
    });
  };
  auto run_direct = [&] {
    uint32_t base = tag;
    tag += static_cast<uint32_t>(o.iters);
    return time_ranks(o.ranks, [&](int r) {
      uint32_t my_tag = base;
      return direct.run(r, buffers[r], o.iters, my_tag);
    });
  };
  for (int round = 0; round < o.rounds + 1; ++round) {  // round 0 warms up both
    // Alternate which path goes first, so drift in the machine's load cancels out.
    double t, g;
    if (round % 2 == 0) {
      t = run_trainrt();
      g = run_direct();
    } else {
      g = run_direct();
      t = run_trainrt();
    }
    if (round == 0) continue;
    via_trainrt.push_back(t);
    via_gloo.push_back(g);
    ratios.push_back(t / g);
  }
  double mt = median(via_trainrt), mg = median(via_gloo);
  double bus = 2.0 * (o.ranks - 1) / o.ranks * bytes;
  std::printf("all-reduce of %.1f MB float32 (sum), %d ranks as threads over loopback, %d rounds x %d iterations\n",
              bytes / (1024 * 1024), o.ranks, o.rounds, o.iters);
  std::printf("  %-26s %10s %14s\n", "path", "ms/op", "bus GB/s");
  std::printf("  %-26s %10.2f %14.2f\n", "gloo called directly", mg * 1e3, bus / mg / 1e9);
  std::printf("  %-26s %10.2f %14.2f\n", "trainrt coll-gloo", mt * 1e3, bus / mt / 1e9);
  std::printf("  trainrt / direct time, median of the %d paired rounds: %.3f (target <= 1.05)\n", o.rounds,
              median(ratios));
  return 0;
}
