// trainrt.toml mistakes that used to pass in silence: a --config that is a
// folder, unknown keys in trainrt's sections or at the top level (a warning
// naming file, line and the closest key; an error with strict = true), bad
// [ddp] values, and errors that name where a value came from.
#include <gtest/gtest.h>

#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

std::filesystem::path dir_with(const std::string& toml, const std::string& script = "print('ran')\n") {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "train.lua") << script;
  if (!toml.empty()) std::ofstream(dir / "trainrt.toml") << toml;
  return dir;
}

TEST(ConfigKeys, ConfigThatIsAFolderIsAnError) {
  std::filesystem::path dir = dir_with("");
  std::filesystem::create_directory(dir / "conf");
  ScriptResult r = run_trainrt("train.lua --config conf", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "config file 'conf' is a directory, expected a TOML file\n");
  std::ofstream(dir / "conf" / "trainrt.toml") << "threads = 1\n";
  r = run_trainrt("train.lua --config conf", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "config file 'conf' is a directory, expected a TOML file (did you mean conf/trainrt.toml?)\n");
  r = run_trainrt("train.lua --config /dev/null", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "config file '/dev/null' is not a regular file\n");
}

TEST(ConfigKeys, UnknownKeysWarnWithFileLineAndClosestKey) {
  std::filesystem::path dir = dir_with("thread = 2\n[dist]\ntimout = 30\n[ddp]\nbucket_mbs = 10\n[plugins]\npath = []\n"
                                       "[model]\nwidth = 3\n[clipped_ddp]\nmax_norm = 1.0\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("trainrt: warning: trainrt.toml:1: unknown key 'thread' (did you mean 'threads'?)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trainrt: warning: trainrt.toml:3: unknown key 'timout' in [dist] (did you mean 'timeout'?)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:5: unknown key 'bucket_mbs' in [ddp] (did you mean 'bucket_mb'?)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:7: unknown key 'path' in [plugins] (did you mean 'paths'?)\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("width"), std::string::npos) << "[model] is the script's:\n" << r.output;
  EXPECT_EQ(r.output.find("max_norm"), std::string::npos) << "a user strategy's section:\n" << r.output;
  EXPECT_NE(r.output.find("ran\n"), std::string::npos) << r.output;
}

TEST(ConfigKeys, TopLevelKeyOfASectionAndUnknownWordsGetHints) {
  std::filesystem::path dir = dir_with("timeout = 30\nfrobnicate = true\ndist = 5\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:1: unknown key 'timeout' (did you mean [dist] timeout?)\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:2: unknown key 'frobnicate' (known: threads, seed, device, devices, quiet, "
                          "strategy, strict, precision)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:3: 'dist' must be a section: write [dist] and its keys below it\n"),
            std::string::npos)
      << r.output;
}

TEST(ConfigKeys, StrictMakesUnknownKeysAnError) {
  std::filesystem::path dir = dir_with("strict = true\n[dist]\ntimout = 30\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt.toml:3: error: unknown key 'timout' in [dist] (did you mean 'timeout'?); strict = true "
                      "makes unknown keys errors\n");
  r = run_trainrt("train.lua --set strict=true --set thread=1", dir_with(""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--set thread=1: error: unknown key 'thread' (did you mean 'threads'?); strict = true makes "
                      "unknown keys errors\n");
  r = run_trainrt("train.lua --set strict=yes", dir_with(""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--set strict=yes: error: strict must be true or false, got 'yes'\n");
}

TEST(ConfigKeys, UnknownTrainKeyIsCheckedAgainstTheScriptsFlags) {
  const std::string script = "local a = trainrt.args{epochs = 5, lr = 0.1}\nprint('epochs', a.epochs)\n";
  std::filesystem::path dir = dir_with("[train]\nepoch = 3\nlr = 0.5\n", script);
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("trainrt: warning: trainrt.toml:2: unknown key 'epoch' in [train]: train.lua has no flag "
                          "--epoch (did you mean 'epochs'?)\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("epochs\t5\n"), std::string::npos) << r.output;
  dir = dir_with("strict = true\n[train]\nwarmup = 3\n", script);
  r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt.toml:3: error: unknown key 'warmup' in [train]: train.lua has no flag --warmup (its "
                      "flags: epochs, lr); strict = true makes unknown keys errors\n");
}

TEST(ConfigKeys, SettingErrorsNameTheirSource) {
  std::filesystem::path dir = dir_with("seed = -4\n");
  ScriptResult r = run_trainrt("train.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt.toml:1: error: seed must be a non-negative integer, got -4\n");
  r = run_trainrt("train.lua --set threads=lots", dir_with(""));
  EXPECT_EQ(r.output, "--set threads=lots: error: threads must be an integer between 1 and 1024, got 'lots'\n");
}

TEST(ConfigKeys, DdpValuesAreCheckedAtStart) {
  for (const std::string& toml : {std::string("[ddp]\nbucket_mb = nan\n"), std::string("[ddp]\nbucket_mb = 1e300\n"),
                                  std::string("[ddp]\nfirst_bucket_mb = -1\n")}) {
    ScriptResult r = run_trainrt("train.lua", dir_with(toml));
    EXPECT_EQ(r.exit_code, 2) << toml << r.output;
    EXPECT_NE(r.output.find("trainrt.toml:2: error: ddp."), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("must be a number of megabytes above 0 and at most 65536, got "), std::string::npos)
        << r.output;
  }
  ScriptResult r = run_trainrt("train.lua", dir_with("[ddp]\nfind_unused_parameters = \"yes\"\n"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt.toml:2: error: ddp.find_unused_parameters must be true or false, got 'yes'\n");
}

TEST(ConfigKeys, SetKeysAreBounded) {
  std::string deep = "a";
  for (int i = 0; i < 40; ++i) deep += ".a";
  ScriptResult r = run_trainrt("train.lua --set " + deep + "=1", dir_with(""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("has 41 parts, more than 32"), std::string::npos) << r.output;
  r = run_trainrt("train.lua --set train.=1", dir_with(""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad key 'train.'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
