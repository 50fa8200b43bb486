// The trainrt command line through the real binary: trainrt.args flags
// (defaults, dashes, booleans, --help, unknown flag, bad value), run options
// before and after the script, the SCRIPT.lua shorthand, subcommands.
#include <gtest/gtest.h>

#include <fstream>

#include "lua_script_runner.h"
#include "trainrt/devices.h"

namespace trainrt::test {
namespace {

const char* kArgsScript = R"lua(
local opts = trainrt.args{epochs = 50, batch_size = 64, lr = 1e-3, shuffle = true, name = "run"}
print(string.format("epochs=%d batch_size=%d lr=%g shuffle=%s name=%s threads=%d first=%s",
  opts.epochs, opts.batch_size, opts.lr, tostring(opts.shuffle), opts.name, trainrt.threads(), tostring(opts[1])))
)lua";

std::filesystem::path write_script(const std::string& body, const std::string& name = "train.lua") {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / name) << body;
  return dir;
}

TEST(CliArgs, DefaultsComeFromTheTable) {
  ScriptResult r = run_lua_script(kArgsScript);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=50 batch_size=64 lr=0.001 shuffle=true name=run"), std::string::npos) << r.output;
}

TEST(CliArgs, FlagsOverrideDefaultsInEverySpelling) {
  ScriptResult r = run_lua_script(kArgsScript, "--epochs 3 --batch_size=32 --lr 0.5 --no-shuffle --name=x extra");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=3 batch_size=32 lr=0.5 shuffle=false name=x"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("first=extra"), std::string::npos) << r.output;
  r = run_lua_script(kArgsScript, "--batch-size 16 --shuffle");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("batch_size=16 lr=0.001 shuffle=true"), std::string::npos) << r.output;
}

TEST(CliArgs, RunOptionsAreTakenBeforeAndAfterTheScript) {
  std::filesystem::path dir = write_script(kArgsScript);
  ScriptResult r = run_trainrt("train --threads 1 train.lua --epochs 2", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=2 batch_size=64 lr=0.001 shuffle=true name=run threads=1"), std::string::npos)
      << r.output;
  r = run_trainrt("train train.lua --epochs 4 --threads 1 --seed 7 --quiet", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=4 batch_size=64 lr=0.001 shuffle=true name=run threads=1"), std::string::npos)
      << r.output;
}

TEST(CliArgs, ShorthandRunsTheScript) {
  std::filesystem::path dir = write_script(kArgsScript);
  ScriptResult r = run_trainrt("train.lua --epochs 5", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=5 "), std::string::npos) << r.output;
}

TEST(CliArgs, SeedAfterTheScriptAppliesBeforeItRuns) {
  std::filesystem::path dir = write_script("print(string.format('value=%.6f', trainrt.randn(1):item()))\n");
  ScriptResult a = run_trainrt("train.lua --seed 7", dir), b = run_trainrt("--seed 7 train.lua", dir),
               c = run_trainrt("train.lua --seed 8", dir);
  EXPECT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
  EXPECT_NE(a.output, c.output);
}

TEST(CliArgs, UnknownFlagIsOneLineAndExit2) {
  ScriptResult r = run_lua_script("trainrt.args{epochs = 50, batch_size = 64, lr = 1e-3}\n", "--epoch 3", "train");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "unknown flag --epoch for train.lua (known: --batch-size, --epochs, --lr)\n");
}

TEST(CliArgs, BadValueIsOneLineAndExit2) {
  ScriptResult r = run_lua_script("trainrt.args{epochs = 50}\n", "--epochs x");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--epochs expects an integer, got 'x'\n");
  r = run_lua_script("trainrt.args{lr = 0.1}\n", "--lr");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--lr expects a number, got nothing\n");
}

TEST(CliArgs, HelpListsFlagsWithDefaultsAndRunOptions) {
  ScriptResult r = run_lua_script("trainrt.args{epochs = {50, help = 'passes over the data'}, lr = 1e-3}\nprint('SCRIPT-CONTINUED')\n",
                                  "--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--epochs N"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("passes over the data (default: 50)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--lr X"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--threads N"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("SCRIPT-CONTINUED"), std::string::npos) << "--help must exit before the script goes on";
}

TEST(CliArgs, BadRunOptionValueAndUnknownCommand) {
  std::filesystem::path dir = write_script("print('ran')\n");
  ScriptResult r = run_trainrt("train.lua --threads many", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt: --threads expects a positive integer, got 'many'\n");
  r = run_trainrt("train --bogus train.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown option --bogus"), std::string::npos) << r.output;
  r = run_trainrt("frobnicate", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown command 'frobnicate'"), std::string::npos) << r.output;
  r = run_trainrt("missing.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cannot open script 'missing.lua'"), std::string::npos) << r.output;
}

TEST(CliCommands, PluginsListsOpsCpuWithItsOps) {
  ScriptResult r = run_trainrt("plugins", make_temp_dir());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ops-cpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(ABI 1)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trt-ops-cpu.so"), std::string::npos) << r.output;
  for (const char* op : {"add", "matmul", "conv2d", "adam_step"})
    EXPECT_NE(r.output.find(std::string(" ") + op), std::string::npos) << op << " missing in\n" << r.output;
  EXPECT_NE(r.output.find("refused plugins:"), std::string::npos) << r.output;
}

TEST(CliCommands, DevicesVersionAndHelp) {
  std::filesystem::path dir = make_temp_dir();
  ScriptResult r = run_trainrt("devices", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cpu:0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cuda:"), std::string::npos) << r.output;
  r = run_trainrt("version", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("trainrt ", 0), 0u) << r.output;
  r = run_trainrt("--help", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("plugins"), std::string::npos) << r.output;
}

// --device naming a device this machine lacks fails at once, before the script
// loads data or builds a model, with the reason and exit 2: no plugin (built
// without nvcc), or the CUDA plugin finding no driver or GPU.
TEST(CliArgs, DeviceWithoutPluginFailsBeforeTheScriptRuns) {
  if (trainrt::device_count(trainrt::DeviceType::CUDA) > 0) GTEST_SKIP() << "this machine has a GPU";
  ScriptResult r = run_lua_script("print('script ran')", "--device cuda:0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  bool no_plugin = r.output.find("--device cuda:0: no plugin provides cuda") != std::string::npos;
  bool no_gpu = r.output.find("no CUDA device visible (CUDA_VISIBLE_DEVICES=") != std::string::npos;
  EXPECT_TRUE(no_plugin || no_gpu) << r.output;
  EXPECT_EQ(trainrt::has_device_backend(trainrt::DeviceType::CUDA), no_gpu) << r.output;
  EXPECT_EQ(r.output.find("script ran"), std::string::npos) << r.output;
  r = run_lua_script("print('script ran on ' .. trainrt.device)", "--device cpu");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace trainrt::test
