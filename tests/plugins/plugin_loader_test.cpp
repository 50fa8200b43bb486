// Plugin loader through the real path: each test plugin is a MODULE built by
// tests/plugins/CMakeLists.txt and loaded with dlopen. Every refusal must say
// which file and why, and leave the process running without that plugin.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"
#include "trainrt/ops/layer.h"
#include "trainrt/plugins.h"
#include "trainrt/stream.h"

namespace trainrt {
namespace {

std::string test_plugin(const std::string& name) { return std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + name + ".so"; }

// Loads `name` and returns the refusal reason ("" when it loaded).
std::string refusal_for(const std::string& name) {
  std::string path = test_plugin(name);
  if (load_plugin_file(path)) return "";
  for (const auto& r : refused_plugins())
    if (r.path.find("trt-" + name + ".so") != std::string::npos) return r.reason;
  return "<refused without a recorded reason>";
}

TEST(PluginLoader, OpsCpuLoadedFromDefaultFolder) {
  bool found = false;
  for (const auto& p : loaded_plugins()) {
    if (p.name != "ops-cpu") continue;
    found = true;
    EXPECT_EQ(p.abi_version, static_cast<uint32_t>(TRT_PLUGIN_ABI_VERSION));
    EXPECT_NE(p.path.find("lib/trainrt/plugins"), std::string::npos) << p.path;
    EXPECT_FALSE(p.kernels_cpu.empty());
  }
  EXPECT_TRUE(found) << "ops-cpu not loaded from " << default_plugin_dir();
}

TEST(PluginLoader, GoodPluginRegistersKernelAndLoader) {
  ASSERT_EQ(refusal_for("test-good"), "");
  ASSERT_TRUE(has_kernel("test_square", DeviceType::CPU));
  Tensor x = Tensor::from_vector({1, -2, 3}, {3});
  Tensor y = Tensor::empty({3});
  call_kernel("test_square", {x}, {y});
  EXPECT_EQ(y.to_vector(), (std::vector<double>{1, 4, 9}));
  EXPECT_NE(find_loader("test-counting"), nullptr);
  std::optional<PluginRecord> record;  // loaded_plugins() is a snapshot
  for (const auto& p : loaded_plugins())
    if (p.name == "test-good") record = p;
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->version, "1.2.3");
  EXPECT_EQ(record->kernels_cpu, std::vector<std::string>{"test_square"});
  EXPECT_EQ(record->loaders, std::vector<std::string>{"test-counting"});
}

TEST(PluginLoader, KernelErrorBecomesErrorNamingTheOp) {
  ASSERT_EQ(refusal_for("test-good"), "");
  Tensor x = Tensor::from_vector({1}, {1}, DType::Float64);
  Tensor y = Tensor::empty({1}, DType::Float64);
  try {
    call_kernel("test_square", {x}, {y});
    y.data_ptr();  // on an asynchronous queue the error arrives where the host waits
    FAIL() << "expected an error";
  } catch (const Error& e) {
    if (async_execution())
      EXPECT_EQ(std::string(e.what()).rfind("asynchronous error on cpu:0: test_square: float32 only (raised by "
                                            "test_square on (1), launched earlier;", 0),
                0u)
          << e.what();
    else
      EXPECT_STREQ(e.what(), "test_square: float32 only");
  }
}

TEST(PluginLoader, LoadingTwiceIsHarmless) {
  ASSERT_EQ(refusal_for("test-good"), "");
  ASSERT_EQ(refusal_for("test-good"), "");
  int copies = 0;
  for (const auto& p : loaded_plugins()) copies += p.name == "test-good";
  EXPECT_EQ(copies, 1);
}

TEST(PluginLoader, RefusesTextFile) {
  std::string reason = refusal_for("not-a-plugin");
  EXPECT_NE(reason.find("not a shared object"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesMissingEntrySymbol) {
  std::string reason = refusal_for("test-no-entry");
  EXPECT_NE(reason.find("missing entry symbol trt_plugin_init_v1"), std::string::npos) << reason;
}

TEST(PluginLoader, RefusesOtherAbiVersionWithBothNumbers) {
  std::string reason = refusal_for("test-abi-v2");
  EXPECT_NE(reason.find("ABI version mismatch: plugin built for ABI 2, this trainrt speaks ABI 1"), std::string::npos)
      << reason;
}

TEST(PluginLoader, FailedInitKeepsNothingAndQuotesPlugin) {
  std::string reason = refusal_for("test-init-fails");
  EXPECT_NE(reason.find("init failed: license file /etc/test-plugin.lic not found"), std::string::npos) << reason;
  EXPECT_FALSE(has_kernel("test_init_fails_kernel", DeviceType::CPU));
}

TEST(PluginLoader, BadRegistrationIsRefusedWithReason) {
  std::string reason = refusal_for("test-bad-registration");
  EXPECT_NE(reason.find("op name and fn are required"), std::string::npos) << reason;
  EXPECT_FALSE(has_kernel("test_null_kernel", DeviceType::CPU));
}

TEST(PluginLoader, RefusedPluginStaysRefusedOnRetry) {
  EXPECT_NE(refusal_for("test-no-entry"), "");
  EXPECT_FALSE(load_plugin_file(test_plugin("test-no-entry")));
}

TEST(PluginLoader, MissingFileIsRefused) {
  EXPECT_FALSE(load_plugin_file("/nonexistent/trt-ghost.so"));
  EXPECT_EQ(refused_plugins().back().reason, "file does not exist");
}

TEST(PluginLoader, RefusedPluginsDoNotStopTheRun) {
  refusal_for("test-abi-v2");
  refusal_for("not-a-plugin");
  Tensor a = ops::ones({2});
  EXPECT_EQ(ops::add(a, a).to_vector(), (std::vector<double>{2, 2}));
}

TEST(PluginLoader, UnknownKernelNamesDeviceAndHint) {
  Tensor x = Tensor::empty({1});
  try {
    call_kernel("no_such_op", {x}, {x});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel 'no_such_op' for device cpu"), std::string::npos) << e.what();
  }
}

TEST(PluginLoader, LayerNameIsCopiedAtRegistration) {
  // The plugin reuses its name buffer after register_layer returns.
  ASSERT_EQ(refusal_for("test-layer-name"), "");
  EXPECT_NE(find_layer("test_double", TRT_DEVICE_CPU), nullptr);
  EXPECT_EQ(find_layer("reused", TRT_DEVICE_CPU), nullptr);
  Tensor x = Tensor::from_vector({1, 2}, {2});
  EXPECT_EQ(ops::layer("test_double", {x}).to_vector(), (std::vector<double>{2, 4}));
}

}  // namespace
}  // namespace trainrt
