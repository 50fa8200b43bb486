// trainrt.toml and --set through the binary: the merged table in
// trainrt.config, [train] values as trainrt.args defaults, settings honoured
// (threads), syntax errors as file:line:column, a missing --config file.
#include <gtest/gtest.h>

#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

const char* kShowConfig = R"lua(
local opts = trainrt.args{epochs = 50, lr = 1e-3}
print(string.format("epochs=%d lr=%g threads=%d", opts.epochs, opts.lr, trainrt.threads()))
print("model.name=" .. tostring(trainrt.config.model and trainrt.config.model.name))
print("config.train.epochs=" .. tostring(trainrt.config.train and trainrt.config.train.epochs))
)lua";

std::filesystem::path dir_with(const std::string& toml, const std::string& toml_name = "trainrt.toml") {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "train.lua") << kShowConfig;
  if (!toml.empty()) std::ofstream(dir / toml_name) << toml;
  return dir;
}

TEST(Config, TomlInWorkingDirectoryProvidesDefaultsAndSettings) {
  std::filesystem::path dir = dir_with("threads = 1\n[train]\nepochs = 7\n[model]\nname = \"cnn\"\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=7 lr=0.001 threads=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.name=cnn"), std::string::npos) << r.output;
}

TEST(Config, SetOverridesTomlAndCommandLineOverridesBoth) {
  std::filesystem::path dir = dir_with("[train]\nepochs = 7\n");
  ScriptResult r = run_trainrt("train.lua --set train.epochs=9 --set model.name=mlp", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=9 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("config.train.epochs=9"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.name=mlp"), std::string::npos) << r.output;
  r = run_trainrt("--set train.epochs=9 train.lua --epochs 2", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epochs=2 "), std::string::npos) << r.output;
}

TEST(Config, ExplicitConfigFile) {
  std::filesystem::path dir = dir_with("[train]\nlr = 0.25\n", "other.toml");
  ScriptResult r = run_trainrt("train.lua --config other.toml", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("lr=0.25"), std::string::npos) << r.output;
}

TEST(Config, SyntaxErrorShowsFileLineColumn) {
  std::filesystem::path dir = dir_with("threads = 2\n[train]\nepochs = = 3\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.rfind("trainrt.toml:3:", 0), 0u) << r.output;
  EXPECT_NE(r.output.find(": error: "), std::string::npos) << r.output;
}

TEST(Config, MissingConfigFileAndBadSettingType) {
  std::filesystem::path dir = dir_with("");
  ScriptResult r = run_trainrt("train.lua --config nope.toml", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "config file 'nope.toml' not found\n");
  r = run_trainrt("train.lua --set threads=lots", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("threads must be an integer"), std::string::npos) << r.output;
  r = run_trainrt("train.lua --set train.epochs=1.5", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train.epochs expects an integer"), std::string::npos) << r.output;
}

TEST(Config, DistributedSettingsAreCheckedAtStart) {
  std::filesystem::path dir = dir_with("");
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"train.lua --set dist.timeout=-1", "dist.timeout must be a positive number of seconds, got -1"},
           {"train.lua --set dist.timeout=soon", "dist.timeout must be a positive number of seconds, got 'soon'"},
           {"train.lua --set strategy=3", "strategy must be a name such as \"ddp\""},
           {"train.lua --set dist.backend=true", "dist.backend must be a backend name"},
           {"train.lua --timeout 0", "--timeout expects a positive number of seconds, got '0'"},
           {"train.lua --timeout 1e99", "--timeout expects a positive number of seconds"},
       }) {
    ScriptResult r = run_trainrt(c.args, dir);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
  std::ofstream(dir / "trainrt.toml") << "strategy = \"ddp\"\n[dist]\ntimeout = 12\n";
  std::ofstream(dir / "show.lua") << "print(trainrt.config.strategy, trainrt.config.dist.timeout, trainrt.config.dist.backend)\n";
  ScriptResult r = run_trainrt("show.lua --timeout 2.5 --backend gloo", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ddp\t2.5\tgloo"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
