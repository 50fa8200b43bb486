// trainrt.args values that the script cannot use, reported with where they
// came from (trainrt.toml and its line, --set, or the flag) before the script
// builds anything: type errors, and the constraints a flag declares (min, max,
// positive, choices, nan/inf for numbers). The examples declare theirs, so a
// negative --batch-size never reaches the DataLoader. Also: a missing
// Fashion-MNIST file is named, not just its folder.
#include <gtest/gtest.h>

#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

const char* kScript = R"lua(
local a = trainrt.args{
  epochs = {5, min = 1},
  batch_size = {64, min = 1, max = 4096},
  lr = {1e-3, positive = true},
  optimizer = {"adam", choices = {"adam", "sgd"}},
  budget = {10.0, finite = false},
}
print(string.format("ok epochs=%d batch_size=%d lr=%g optimizer=%s budget=%s", a.epochs, a.batch_size, a.lr,
                    a.optimizer, tostring(a.budget)))
)lua";

std::filesystem::path dir_with(const std::string& toml) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "train.lua") << kScript;
  if (!toml.empty()) std::ofstream(dir / "trainrt.toml") << toml;
  return dir;
}

// 'path' for the shell (appended, not "'" + path: GCC 12 warns falsely on that).
std::string quoted(const std::string& path) {
  std::string out(1, '\'');
  out.append(path).append(1, '\'');
  return out;
}

struct Case {
  std::string toml, args, output;
};

TEST(ArgsSources, RejectedValuesNameTheirSourceAndExit2) {
  for (const Case& c : std::vector<Case>{
           {"[train]\nepochs = \"ten\"\n", "", "trainrt.toml:2: error: train.epochs expects an integer, got 'ten'\n"},
           {"[train]\n\nbatch_size = -32\n", "", "trainrt.toml:3: error: train.batch_size must be at least 1, got -32\n"},
           {"[train]\nlr = nan\n", "", "trainrt.toml:2: error: train.lr must be a number, got nan\n"},
           {"[train]\nlr = inf\n", "", "trainrt.toml:2: error: train.lr must be finite, got inf\n"},
           {"[train]\nlr = 0\n", "", "trainrt.toml:2: error: train.lr must be positive, got 0.0\n"},
           {"[train]\noptimizer = \"adamw\"\n", "", "trainrt.toml:2: error: train.optimizer must be one of adam, sgd, got 'adamw'\n"},
           {"", "--set train.lr=-0.5", "--set train.lr=-0.5: error: train.lr must be positive, got -0.5\n"},
           {"", "--set train.epochs=1.5", "--set train.epochs=1.5: error: train.epochs expects an integer, got 1.5\n"},
           {"", "--batch-size 0", "--batch-size must be at least 1, got 0\n"},
           {"", "--batch-size=5000", "--batch-size must be at most 4096, got 5000\n"},
           {"", "--lr -1e-3", "--lr must be positive, got -0.001\n"},
           {"", "--lr 1e999", "--lr must be finite, got inf\n"},
           {"", "--optimizer rmsprop", "--optimizer must be one of adam, sgd, got 'rmsprop'\n"},
       }) {
    ScriptResult r = run_trainrt("train.lua " + c.args, dir_with(c.toml));
    EXPECT_EQ(r.exit_code, 2) << c.toml << c.args << "\n" << r.output;
    EXPECT_EQ(r.output, c.output) << c.toml << c.args;
  }
}

TEST(ArgsSources, GoodValuesFromEverySourcePass) {
  ScriptResult r = run_trainrt("train.lua --budget 1e999 --optimizer sgd",
                               dir_with("[train]\nepochs = 2\nbatch_size = 4096\nlr = 1\n"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok epochs=2 batch_size=4096 lr=1 optimizer=sgd budget=inf\n"), std::string::npos) << r.output;
}

TEST(ArgsSources, BadSpecIsTheScriptsErrorAtItsLine) {
  ScriptResult r = run_lua_script("local a = trainrt.args{batch_size = {0, min = 1}}\n", "", "spec");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("spec.lua:1: trainrt.args: default of batch_size (0) must be at least 1\n"), std::string::npos)
      << r.output;
  r = run_lua_script("local a = trainrt.args{lr = {0.1, minimum = 0}}\n", "", "spec");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("spec.lua:1: trainrt.args: unknown field 'minimum' for lr (known: choices, finite, help, max, "
                          "min, positive)\n"),
            std::string::npos)
      << r.output;
  r = run_lua_script("local a = trainrt.args{name = {'x', positive = true}}\n", "", "spec");
  EXPECT_NE(r.output.find("spec.lua:1: trainrt.args: positive of name must be true or false, for a number flag"),
            std::string::npos)
      << r.output;
}

TEST(ArgsSources, HelpShowsConstraints) {
  ScriptResult r = run_trainrt("train.lua --help", dir_with(""));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--batch-size N"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(default: 64; at least 1; at most 4096)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(default: adam; one of adam, sgd)"), std::string::npos) << r.output;
}

// The examples declare constraints, so a bad flag stops them before any data is read.
TEST(ArgsSources, ExamplesRefuseBadFlagsBeforeLoadingData) {
  std::filesystem::path dir = make_temp_dir();
  for (const char* example : {"train.lua", "fit.lua", "mlp.lua"}) {
    std::string path = quoted(source_dir() + "/examples/mnist/" + example);
    ScriptResult r = run_trainrt(path + " --batch-size -1 --data /nonexistent", dir);
    EXPECT_EQ(r.exit_code, 2) << example << r.output;
    EXPECT_EQ(r.output, "--batch-size must be at least 1, got -1\n") << example;
    r = run_trainrt(path + " --set train.lr=nan --data /nonexistent", dir);
    EXPECT_EQ(r.exit_code, 2) << example << r.output;
    EXPECT_EQ(r.output, "--set train.lr=nan: error: train.lr must be a number, got nan\n") << example;
  }
  ScriptResult r = run_trainrt(quoted(source_dir() + "/examples/mnist/mlp.lua") + " --optimizer adagrad", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--optimizer must be one of adam, sgd, got 'adagrad'\n");
}

TEST(ArgsSources, MissingFashionFileIsNamed) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "train-images-idx3-ubyte.gz") << "x";
  ScriptResult r = run_lua_script("local ds = trainrt.data.fashion_mnist{root = '" + dir.string() + "'}\n", "", "fm");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("fm.lua:1: Fashion-MNIST file train-labels-idx1-ubyte(.gz) not found in " + dir.string() +
                          ": install the Debian package dataset-fashion-mnist"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace trainrt::test
