// coll-nccl as a user meets it: the built trt-coll-nccl.so loads through the
// normal plugin loader (no driver needed) and registers "nccl" for cuda; the
// default backend is nccl on cuda and gloo on cpu; without a CUDA device a
// communicator fails at once with one line, never a hang or a crash.
// Gpu*: 2 ranks over NCCL on cuda:0 and cuda:1 compared with the CPU result;
// skipped (with the reason) where fewer than 2 CUDA devices are visible.
// The NCCL tests compile only where the plugin is built (TRAINRT_TEST_NCCL).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "trainrt/dist/process_group.h"

#if TRAINRT_TEST_NCCL
#include "dist/job_runner.h"
#include "trainrt/plugins.h"
#include "trainrt/tensor.h"
#if __has_include("trainrt/devices.h")
#include "trainrt/devices.h"
#define TRAINRT_TEST_HAVE_DEVICES_H 1
#endif
#endif

namespace trainrt::dist {
namespace {

TEST(DefaultBackend, NcclForCudaGlooForCpu) {
  EXPECT_EQ(default_backend(DeviceType::CUDA), "nccl");
  EXPECT_EQ(default_backend(DeviceType::CPU), "gloo");
}

TEST(DefaultBackend, AGroupWithoutABackendUsesTheDevicesDefault) {
  ProcessGroupOptions options;  // backend "" and cpu
  options.store = make_memory_store();
  options.local_address = "127.0.0.1";
  auto group = ProcessGroup::create(options);
  group->set_exit_on_remote_failure(false);
  EXPECT_EQ(group->backend_name(), "gloo");
}

#if TRAINRT_TEST_NCCL

// Visible CUDA devices: TRAINRT_TEST_GPUS when set, else the runtime's count.
int visible_gpus(std::string& how) {
  if (const char* env = std::getenv("TRAINRT_TEST_GPUS"); env && *env) {
    how = std::string("TRAINRT_TEST_GPUS=") + env;
    return std::atoi(env);
  }
#if TRAINRT_TEST_HAVE_DEVICES_H
  int n = device_count(DeviceType::CUDA);
  how = "device_count(cuda) = " + std::to_string(n) + (n ? "" : " (" + no_device_reason(DeviceType::CUDA) + ")");
  return n;
#else
  how = "TRAINRT_TEST_GPUS unset (the runtime has no device count yet)";
  return 0;
#endif
}

std::string plugin_path() { return default_plugin_dir() + "/trt-coll-nccl.so"; }

// Threads as ranks on cuda:<rank>; returns each rank's error ("" = none).
std::vector<std::string> run_cuda_ranks(int world, const std::function<void(int, ProcessGroup&)>& body,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto store = make_memory_store();
  std::vector<std::string> errors(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        ProcessGroupOptions options;  // backend: the default for cuda
        options.rank = r;
        options.world_size = world;
        options.store = store;
        options.timeout = timeout;
        options.heartbeat = std::chrono::milliseconds(100);
        options.device = Device{DeviceType::CUDA, r};
        options.local_address = "127.0.0.1";
        auto group = ProcessGroup::create(options);
        group->set_exit_on_remote_failure(false);
        body(r, *group);
      } catch (const std::exception& e) {
        errors[r] = e.what()[0] ? e.what() : "(empty error)";
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

TEST(NcclPlugin, ExportsTheEntryPointAndLoadsWithoutADriver) {
  void* handle = ::dlopen(plugin_path().c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  EXPECT_NE(::dlsym(handle, TRT_STR(TRT_PLUGIN_ENTRY)), nullptr) << ::dlerror();
  ::dlclose(handle);
  bool found = false;
  for (const PluginRecord& p : loaded_plugins())
    if (p.name == "coll-nccl") {
      found = true;
      EXPECT_NE(p.path.find("lib/trainrt/plugins"), std::string::npos) << p.path;
      EXPECT_EQ(p.collectives, std::vector<std::string>{"nccl"});
    }
  std::string refusals;
  for (const PluginRefusal& r : refused_plugins()) refusals += r.path + ": " + r.reason + "\n";
  EXPECT_TRUE(found) << "coll-nccl not loaded from " << default_plugin_dir() << "; refused:\n" << refusals;
}

TEST(NcclPlugin, RegistersNcclForCudaWithEveryOperation) {
  const CollectiveBackend* nccl = find_collective("nccl");
  ASSERT_NE(nccl, nullptr);
  EXPECT_EQ(nccl->device_type, DeviceType::CUDA);
  EXPECT_EQ(nccl->plugin, "coll-nccl");
  const trt_collective_backend& t = nccl->table;
  for (const void* fn : {(const void*)t.create, (const void*)t.all_reduce, (const void*)t.broadcast,
                         (const void*)t.all_gather, (const void*)t.reduce_scatter, (const void*)t.barrier,
                         (const void*)t.work_wait, (const void*)t.work_test, (const void*)t.work_free,
                         (const void*)t.abort, (const void*)t.destroy})
    EXPECT_NE(fn, nullptr);
}

TEST(NcclPlugin, CpuTensorsAreRefusedWithTheBackendToUse) {
  const CollectiveBackend* nccl = find_collective("nccl");
  ASSERT_NE(nccl, nullptr);
  trt_store store{};  // never reached
  store.struct_size = sizeof store;
  trt_comm_options options{};
  options.struct_size = sizeof options;
  options.abi_version = TRT_PLUGIN_ABI_VERSION;
  options.world_size = 1;
  options.store = &store;
  options.timeout_ms = 1000;
  options.device_type = TRT_DEVICE_CPU;
  void* comm = nullptr;
  char error[512] = {0};
  EXPECT_EQ(nccl->table.create(&options, &comm, error, sizeof error), TRT_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(error).find("use the gloo backend"), std::string::npos) << error;
  EXPECT_EQ(comm, nullptr);
}

TEST(NcclPlugin, WithoutACudaDeviceEveryRankFailsAtOnceInOneLine) {
  std::string how;
  if (visible_gpus(how) > 0) GTEST_SKIP() << "a CUDA device is visible (" << how << ")";
  const auto start = std::chrono::steady_clock::now();
  auto errors = run_cuda_ranks(2, [](int, ProcessGroup&) { ADD_FAILURE() << "created without a device"; });
  EXPECT_LT(test::seconds_since(start), 10.0) << "a rank waited for the timeout instead of failing";
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_NE(errors[r].find("rank " + std::to_string(r) + ": cannot create the nccl communicator: "),
              std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find("nccl: no CUDA device visible ("), std::string::npos) << errors[r];
    EXPECT_EQ(errors[r].find('\n'), std::string::npos) << errors[r];
  }
}

// The path a user takes without --device cuda's own check: a script that joins
// on cuda under `trainrt launch` gets nccl by default and fails cleanly.
TEST(NcclPlugin, ALaunchedJobOnCudaWithoutADeviceFailsCleanly) {
  std::string how;
  if (visible_gpus(how) > 0) GTEST_SKIP() << "a CUDA device is visible (" << how << ")";
  std::filesystem::path dir = test::make_temp_dir();
  test::write_file(dir, "script.lua", R"lua(
local dist = require "trainrt.dist"
print("backend " .. dist.default_backend("cuda:" .. dist.env().local_rank))
dist.init{ device = "cuda:" .. dist.env().local_rank, timeout = 60 }
print("joined")
)lua");
  const auto start = std::chrono::steady_clock::now();
  test::ScriptResult run = test::run_trainrt("launch --nproc-per-node 2 --master-port 0 script.lua", dir);
  const std::string& out = run.output;
  EXPECT_LT(test::seconds_since(start), 30.0) << out;
  EXPECT_NE(run.exit_code, 0) << out;
  EXPECT_LT(run.exit_code, 128) << "a worker crashed:\n" << out;
  EXPECT_NE(out.find("backend nccl"), std::string::npos) << out;
  EXPECT_NE(out.find("cannot create the nccl communicator: nccl: no CUDA device visible ("), std::string::npos) << out;
  EXPECT_EQ(out.find("joined"), std::string::npos) << out;
}

// ---- on GPUs (ctest -L gpu) ----

// Skips the calling test (with the reason printed) when fewer than n CUDA devices are visible.
#define REQUIRE_GPUS(n)                                                                            \
  do {                                                                                             \
    std::string how_;                                                                              \
    if (visible_gpus(how_) < (n)) {                                                                \
      std::string reason_ = "needs " + std::to_string(n) + " CUDA devices, " + how_;              \
      std::printf("[  SKIPPED ] %s\n", reason_.c_str());                                          \
      GTEST_SKIP() << reason_;                                                                     \
    }                                                                                              \
  } while (0)

// Rank r's input: element i = (r + 1) * (i + 1) - 0.5 * r, so ranks differ.
std::vector<double> rank_values(int r, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = (r + 1) * (i + 1) - 0.5 * r;
  return v;
}

TEST(GpuNccl, TwoRanksAllReduceEqualsTheCpuSum) {
  REQUIRE_GPUS(2);
  const int world = 2, n = 1000;
  std::vector<double> sum(n, 0.0), maxv(n, -1e300);
  for (int r = 0; r < world; ++r)
    for (int i = 0; i < n; ++i) {
      sum[i] += rank_values(r, n)[i];
      maxv[i] = std::max(maxv[i], rank_values(r, n)[i]);
    }
  auto errors = run_cuda_ranks(world, [&](int r, ProcessGroup& group) {
    EXPECT_EQ(group.backend_name(), "nccl");
    Device cuda{DeviceType::CUDA, r};
    Tensor a = Tensor::from_vector(rank_values(r, n), {n}).to(cuda);
    group.all_reduce(a, ReduceOp::Sum)->wait();
    std::vector<double> got = a.to(Device::cpu()).to_vector();
    for (int i = 0; i < n; ++i) ASSERT_DOUBLE_EQ(got[i], sum[i]) << "sum, element " << i;

    Tensor b = Tensor::from_vector(rank_values(r, n), {n}, DType::Float64).to(cuda);
    group.all_reduce(b, ReduceOp::Avg)->wait();
    got = b.to(Device::cpu()).to_vector();
    for (int i = 0; i < n; ++i) ASSERT_NEAR(got[i], sum[i] / world, 1e-12) << "avg, element " << i;

    Tensor c = Tensor::from_vector(rank_values(r, n), {n}).to(cuda);
    group.all_reduce(c, ReduceOp::Max)->wait();
    got = c.to(Device::cpu()).to_vector();
    for (int i = 0; i < n; ++i) ASSERT_DOUBLE_EQ(got[i], maxv[i]) << "max, element " << i;
    group.barrier()->wait();
  });
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

TEST(GpuNccl, TwoRanksBroadcastGatherAndScatter) {
  REQUIRE_GPUS(2);
  const int world = 2, n = 6;
  auto errors = run_cuda_ranks(world, [&](int r, ProcessGroup& group) {
    Device cuda{DeviceType::CUDA, r};
    Tensor t = Tensor::from_vector(rank_values(r, n), {n}, DType::Int64).to(cuda);
    group.broadcast(t, 1)->wait();
    EXPECT_EQ(t.to(Device::cpu()).to_vector(), rank_values(1, n));

    Tensor in = Tensor::from_vector(rank_values(r, n), {n}).to(cuda);
    Tensor gathered = Tensor::empty({world * n}, DType::Float32, cuda);
    group.all_gather(in, gathered)->wait();
    std::vector<double> expected = rank_values(0, n), second = rank_values(1, n);
    expected.insert(expected.end(), second.begin(), second.end());
    EXPECT_EQ(gathered.to(Device::cpu()).to_vector(), expected);

    Tensor chunk = Tensor::empty({n / world}, DType::Float32, cuda);
    group.reduce_scatter(in, chunk, ReduceOp::Sum)->wait();
    std::vector<double> want(n / world);
    for (int i = 0; i < n / world; ++i) want[i] = rank_values(0, n)[r * n / world + i] + rank_values(1, n)[r * n / world + i];
    EXPECT_EQ(chunk.to(Device::cpu()).to_vector(), want);
  });
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

// A rank that never joins: the other's wait ends with the group's timeout, not a hang.
TEST(GpuNccl, AMissingRankTimesOutInsteadOfHanging) {
  REQUIRE_GPUS(1);
  auto store = make_memory_store();
  ProcessGroupOptions options;
  options.world_size = 2;  // rank 1 never starts
  options.store = store;
  options.timeout = std::chrono::seconds(3);
  options.device = Device{DeviceType::CUDA, 0};
  options.local_address = "127.0.0.1";
  const auto start = std::chrono::steady_clock::now();
  try {
    ProcessGroup::create(options);
    ADD_FAILURE() << "created a 2-rank group alone";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("did not finish within 3 s"), std::string::npos) << e.what();
  }
  EXPECT_LT(test::seconds_since(start), 20.0);
}

#endif  // TRAINRT_TEST_NCCL

}  // namespace
}  // namespace trainrt::dist
