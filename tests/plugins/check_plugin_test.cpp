// `trainrt check-plugin` as a plugin author runs it: exit 0 on correct layers,
// exit 1 naming each failing layer and check (a backward scaled by 2, a kernel
// that claims strided inputs but ignores strides), exit 2 for usage mistakes,
// exit 1 with the reason for a refused plugin.
#include <gtest/gtest.h>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

std::string plugin(const std::string& name) { return std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + name + ".so"; }

ScriptResult check_plugin(const std::string& args) { return run_trainrt("check-plugin " + args, make_temp_dir()); }

bool has(const std::string& output, const std::string& needle) { return output.find(needle) != std::string::npos; }

TEST(CheckPlugin, CorrectLayersPass) {
  ScriptResult r = check_plugin(plugin("test-layers"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "check-plugin: all 3 layers of test-layers passed")) << r.output;
  // float64 where the layer runs it; affine is float32-only.
  for (const char* row : {"scale_square          cpu     float64  gradient", "scale_square_strided  cpu     float64  gradient",
                          "affine                cpu     float32  gradient", "scale_square          cpu     float64  transposed-input",
                          "scale_square_strided  cpu     float64  expanded-grad", "affine                cpu     float32  narrowed-input"})
    EXPECT_TRUE(has(r.output, row)) << "missing row '" << row << "' in:\n" << r.output;
  EXPECT_FALSE(has(r.output, "FAIL")) << r.output;
  // Required attributes without a value use default_value, and say so.
  EXPECT_TRUE(has(r.output, "required attribute 'power' not given (--attr power=VALUE): using its default_value 2"))
      << r.output;
  EXPECT_TRUE(has(r.output, "float64 forward failed")) << r.output;  // affine's note before it falls back
  EXPECT_FALSE(has(r.output, "cuda")) << "no row for a device the layers have no kernels for\n" << r.output;
}

TEST(CheckPlugin, WrongBackwardAndIgnoredStridesFailNamingTheLayers) {
  ScriptResult r = check_plugin(plugin("test-layers-bad"));
  ASSERT_EQ(r.exit_code, 1) << r.output;
  std::string last = r.output.substr(r.output.rfind("check-plugin: "));
  // A strided layer gets grad_outputs as autograd made them, so its backward's reads are checked too.
  EXPECT_TRUE(has(last, "check-plugin: FAILED: twice_grad (gradient), ignores_strides (transposed-input, "
                        "narrowed-input, expanded-input, transposed-grad, expanded-grad)\n"))
      << r.output;
  EXPECT_FALSE(has(last, "ignores_strides (gradient")) << r.output;  // contiguous, it is right
  EXPECT_FALSE(has(last, "fine_too")) << r.output;
  EXPECT_TRUE(has(r.output, "gradient of input 1 (4, 6) at index (")) << r.output;  // the reason under the row
}

TEST(CheckPlugin, OneLayerAndAttributes) {
  ScriptResult r = check_plugin(plugin("test-layers-bad") + " --layer twice_grad --attr power=3 --attr scale=0.5");
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "check-plugin: FAILED: twice_grad (gradient)\n")) << r.output;
  EXPECT_FALSE(has(r.output, "required attribute 'power' not given")) << r.output;

  ScriptResult good = check_plugin("--layer=fine_too --dtype float32 " + plugin("test-layers-bad"));
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_TRUE(has(good.output, "fine_too  cpu     float32  gradient")) << good.output;
  EXPECT_TRUE(has(good.output, "all 1 layer of test-layers-bad passed")) << good.output;
}

TEST(CheckPlugin, UsageMistakesExit2) {
  ScriptResult unknown = check_plugin(plugin("test-layers-bad") + " --layer nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_TRUE(has(unknown.output, "no layer 'nope' (its layers: twice_grad, ignores_strides, fine_too)"))
      << unknown.output;

  ScriptResult no_path = check_plugin("");
  EXPECT_EQ(no_path.exit_code, 2) << no_path.output;
  EXPECT_TRUE(has(no_path.output, "missing PATH")) << no_path.output;

  ScriptResult bad_attr = check_plugin(plugin("test-layers") + " --attr epsilon=1");
  EXPECT_EQ(bad_attr.exit_code, 2) << bad_attr.output;
  EXPECT_TRUE(has(bad_attr.output, "no layer checked here declares an attribute 'epsilon'")) << bad_attr.output;

  ScriptResult help = check_plugin("--help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_TRUE(has(help.output, "usage: trainrt check-plugin PATH")) << help.output;
}

TEST(CheckPlugin, RefusedPluginExits1WithTheReason) {
  ScriptResult r = check_plugin(plugin("test-init-fails"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "trt-test-init-fails.so was refused: init failed")) << r.output;

  ScriptResult missing = check_plugin("/nonexistent/trt-x.so");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(has(missing.output, "was refused: file does not exist")) << missing.output;
}

}  // namespace
}  // namespace trainrt::test
