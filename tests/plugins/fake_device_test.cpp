// The device path without a GPU: a stand-in CUDA device on host memory
// (fake_cuda_plugin.c) registered through the same ABI as ops-cuda, driven
// through the `trainrt` binary as a user would. What it covers is everything
// the GPU relies on that is not arithmetic: `trainrt devices`, --device and
// --devices checks with their one-line errors, the caching allocator's
// per-device counters and reuse, trainrt.empty_cache(), the out-of-memory
// report, copies host <-> device and device <-> device on the queues.
// The fake plugin goes first on TRAINRT_PLUGIN_PATH; where ops-cuda is built
// too, it is refused for registering cuda a second time (tolerated here).
#include <gtest/gtest.h>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

std::string fake_env(int devices, int memory_mb = 64) {
  return "TRAINRT_PLUGIN_PATH='" + std::string(TRAINRT_TEST_PLUGIN_DIR) +
         "/trt-test-fake-cuda.so' TRT_FAKE_CUDA_DEVICES=" + std::to_string(devices) +
         " TRT_FAKE_CUDA_MEMORY_MB=" + std::to_string(memory_mb) + " CUDA_VISIBLE_DEVICES=0,1";
}

bool has(const std::string& output, const std::string& needle) { return output.find(needle) != std::string::npos; }

ScriptResult run_fake(const std::string& script, const std::string& args, int devices = 2, int memory_mb = 64) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << kLuaCheckPrelude << script;
  return run_trainrt("train script.lua " + args, dir, fake_env(devices, memory_mb));
}

TEST(FakeDevice, DevicesListsEachGpuWithUuidMemoryAndCapability) {
  ScriptResult r = run_trainrt("devices", make_temp_dir(), fake_env(2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "cuda: 2 devices visible (CUDA_VISIBLE_DEVICES=0,1); plugin test-fake-cuda")) << r.output;
  EXPECT_TRUE(has(r.output, "cuda:0  Fake GPU 0 (UUID: GPU-fa4e0000-0000-0000-0000-000000000000)  64.0 MiB total"))
      << r.output;
  EXPECT_TRUE(has(r.output, "cuda:1  Fake GPU 1 (UUID: GPU-fa4e0001-")) << r.output;
  EXPECT_TRUE(has(r.output, "compute 9.0")) << r.output;
}

TEST(FakeDevice, NoGpuIsAPlainLineAndDeviceCudaFailsBeforeTheScript) {
  ScriptResult r = run_trainrt("devices", make_temp_dir(), fake_env(0));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "cuda: no CUDA device visible (CUDA_VISIBLE_DEVICES=0,1, driver: not found (fake))"))
      << r.output;
  r = run_fake("print('script ran')", "--device cuda", 0);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--device cuda: no CUDA device visible (CUDA_VISIBLE_DEVICES=0,1, driver: not found (fake)); "
                            "use --device cpu"))
      << r.output;
  EXPECT_FALSE(has(r.output, "script ran")) << r.output;
  r = run_fake("print('script ran on ' .. trainrt.device)", "--device cpu", 0);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "script ran on cpu")) << r.output;
}

TEST(FakeDevice, AnIndexPastTheVisibleDevicesNamesThem) {
  ScriptResult r = run_fake("print('script ran')", "--device cuda:2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "cuda:2 is not visible: 2 CUDA devices (cuda:0, cuda:1) with CUDA_VISIBLE_DEVICES=0,1"))
      << r.output;
  r = run_fake("print('script ran')", "--devices cuda:0,cuda:1,cuda:2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "trainrt: --devices: cuda:2 is not visible")) << r.output;
}

TEST(FakeDevice, DevicesFlagListsGpusForTheMirroredStrategy) {
  ScriptResult r = run_fake("print('devices ' .. table.concat(trainrt.devices, ','))", "--devices cuda:*");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "devices cuda:0,cuda:1")) << r.output;
  r = run_fake("print('devices ' .. table.concat(trainrt.devices, ','))", "--devices cuda:0,cpu:1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "mixes CPU and CUDA devices")) << r.output;
}

// Tensors move host -> cuda:0 -> cuda:1 -> host through the queues and the
// plugin's copies; a kernel runs on the device's stream; memory is counted per
// device, freed blocks are cached for reuse (no second device malloc), and
// trainrt.empty_cache() hands them back.
TEST(FakeDevice, CopiesKernelsAndTheCachingAllocatorPerDevice) {
  ScriptResult r = run_fake(R"lua(
local MiB = 1024 * 1024
local x = trainrt.ones({1024, 256})                        -- 1 MiB on the host
local g0 = x:to("cuda:0")
local y = g0 + g0                                         -- the fake add kernel, on cuda:0's stream
local g1 = y:to("cuda:1")
local back = g1:to("cpu")
check(back:device() == "cpu:0", "back on the host")
check_close(back:sum():item(), 2 * 1024 * 256, 0, "values survive two devices and a kernel")
local m0 = trainrt.memory("cuda:0")
check(m0.live_bytes == 2 * MiB, "cuda:0 holds x and y: " .. m0.live_bytes)
check(trainrt.memory("cuda:1").live_bytes == MiB, "cuda:1 holds one copy")
g0:free(); y:free()
m0 = trainrt.memory("cuda:0")
check(m0.live_bytes == 0 and m0.cached_bytes == 2 * MiB, "freed blocks stay cached: " .. m0.cached_bytes)
local again = trainrt.zeros({1024, 256}, {device = "cuda:0"})
m0 = trainrt.memory("cuda:0")
check(m0.cached_bytes == MiB and m0.peak_bytes == 2 * MiB, "a same-size tensor reuses a cached block")
again:free()
trainrt.empty_cache()
check(trainrt.memory("cuda:0").cached_bytes == 0, "empty_cache returns cached device memory")
)lua", "");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  size_t checks = 0;  // every check of the script ran and passed
  for (size_t at = r.output.find("ok "); at != std::string::npos; at = r.output.find("\nok ", at + 1)) ++checks;
  EXPECT_EQ(checks, 7u) << r.output;
  EXPECT_TRUE(has(r.output, "ok empty_cache returns cached device memory")) << r.output;
}

// The seeds' most common multi-GPU failure: the report names the device, the
// op, the request, free/total memory and trainrt's cache, and what to change;
// the script's line comes first, the exit is 1 and the process survives to say so.
TEST(FakeDevice, OutOfMemoryNamesOpBytesMemoryAndTheFix) {
  ScriptResult r = run_fake(R"lua(
local a = trainrt.ones({1024, 1024}, {device = "cuda:0"})       -- 4 MiB
local b = trainrt.ones({1024, 1024}, {device = "cuda:0"})       -- 4 MiB
local keep = a + b                                              -- 4 MiB
a:free()                                                        -- 8 MiB in tensors, 4 MiB cached
local big = trainrt.ones({4 * 1024, 1024}, {device = "cuda:0"}) -- 16 MiB: 28 of 32 MiB taken
local sum = big + big                                           -- 16 MiB more: fails even without the cache
print("unreachable")
)lua", "", 2, 32);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "script.lua:")) << r.output;
  EXPECT_TRUE(has(r.output, "cuda:0 out of memory in add: tried to allocate 16.0 MiB with 8.0 MiB free of 32.0 MiB; "
                            "24.0 MiB in tensors, 4.0 MiB cached by trainrt (released and retried)"))
      << r.output;
  EXPECT_TRUE(has(r.output, "Use a smaller per-device batch")) << r.output;
  EXPECT_FALSE(has(r.output, "unreachable")) << r.output;
}

}  // namespace
}  // namespace trainrt::test
