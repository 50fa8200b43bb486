// The strategy interface from Lua, in one process: choosing a strategy by
// name, path, module or trainrt.toml; a user's own strategy loaded without
// rebuilding anything; the single strategy's loader, reduce and setup; and
// the one-line errors for a strategy that cannot be found.
#include <filesystem>
#include <fstream>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(Strategy, DefaultIsSingleAndTheRunSharesOneInstance) {
  expect_script_passes(R"lua(
local s = trainrt.strategy()
check(s.name == "single", "default single")
check(s == trainrt.strategy(), "one instance per run")
check(s.rank == 0 and s.world_size == 1 and s:is_main(), "one process")
check(s:reduce(3.5) == 3.5, "reduce a number")
local l = s:reduce({ 1, 2 }, "mean")
check(l[1] == 1 and l[2] == 2, "reduce a list")
local t = trainrt.tensor({ 1, 2 })
local r = s:reduce(t, "max")
check(r[2]:item() == 2 and r ~= t, "reduce a tensor into a new one")
local ok, err = pcall(function() s:reduce(1, "prod") end)
check(not ok and tostring(err):find("op must be sum, mean, max or min, got prod"), "bad op named")
)lua",
                       {"default single", "one instance per run", "one process", "reduce a number", "reduce a list",
                        "reduce a tensor into a new one", "bad op named"});
}

TEST(Strategy, ChosenByFlagAndByConfig) {
  expect_script_passes("check(trainrt.strategy().name == 'ddp', 'ddp from flag')", {"ddp from flag"},
                       "--strategy ddp");
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "trainrt.toml") << "strategy = \"ddp\"\n";
  std::ofstream(dir / "s.lua") << kLuaCheckPrelude << "check(trainrt.strategy().name == 'ddp', 'ddp from toml')\n";
  ScriptResult r = run_trainrt("train s.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok ddp from toml"), std::string::npos) << r.output;
}

const char* kUserStrategy = R"lua(
local Strategy = require "trainrt.strategies.Strategy"
local Counting = Strategy:extend("counting")
function Counting:__init(opts)
  Strategy.__init(self, opts)
  self.steps = 0
end
function Counting:step(optimizer)
  self.steps = self.steps + 1
  return Strategy.step(self, optimizer)
end
return Counting
)lua";

const char* kTrainThroughStrategy = R"lua(
local s = trainrt.strategy()
local model = nn.Linear(3, 1)
local opt = optim.SGD{ model:parameters(), lr = 0.1 }
model, opt = s:setup(model, opt)
for _ = 1, 4 do
  opt:zero_grad()
  s:backward(model(trainrt.ones({ 2, 3 })):sum())
  s:step(opt)
end
check(s.name == "counting" and s.steps == 4, "user strategy stepped 4 times")
)lua";

TEST(Strategy, AUserStrategyLoadsFromAPath) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "counting.lua") << kUserStrategy;
  std::ofstream(dir / "train.lua") << kLuaCheckPrelude << kTrainThroughStrategy;
  ScriptResult r = run_trainrt("train train.lua --strategy ./counting.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok user strategy stepped 4 times"), std::string::npos) << r.output;
}

TEST(Strategy, AUserStrategyLoadsAsAModuleFromTrainrtLuaPath) {
  std::filesystem::path dir = make_temp_dir();
  std::filesystem::create_directories(dir / "lib" / "mystrategies");
  std::ofstream(dir / "lib" / "mystrategies" / "counting.lua") << kUserStrategy;
  std::ofstream(dir / "train.lua") << kLuaCheckPrelude << kTrainThroughStrategy;
  ScriptResult r = run_trainrt("train train.lua --strategy mystrategies.counting", dir);
  EXPECT_EQ(r.exit_code, 2) << "without TRAINRT_LUA_PATH the module is not found:\n" << r.output;
  std::string command = "cd '" + dir.string() + "' && TRAINRT_LUA_PATH='" + (dir / "lib").string() + "' '" +
                        trainrt_binary() + "' train train.lua --strategy mystrategies.counting 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("ok user strategy stepped 4 times"), std::string::npos) << output;
}

TEST(Strategy, UnknownStrategiesAreOneLineAndExitTwo) {
  ScriptResult r = run_lua_script("trainrt.strategy()", "--strategy nosuch");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("trainrt: --strategy nosuch: no such strategy (built in: single, ddp"), std::string::npos)
      << r.output;
  r = run_lua_script("trainrt.strategy()", "--strategy ./missing.lua");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--strategy ./missing.lua: no such file"), std::string::npos) << r.output;
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "bad.lua") << "return {}\n";
  std::ofstream(dir / "t.lua") << "trainrt.strategy()\n";
  r = run_trainrt("train t.lua --strategy ./bad.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("must return a class made with Strategy:extend"), std::string::npos) << r.output;
}

TEST(Strategy, LoaderShardsAndEvalLoadersRepeatNothing) {
  expect_script_passes(R"lua(
local data = require "trainrt.data"
local Strategy = require "trainrt.strategies.Strategy"
local ds = data.subset(data.fashion_mnist{ split = "test" }, 10)
-- A strategy of rank 2 of 3, without a process group: only the sharding is exercised.
local s = Strategy:new({})
s.rank, s.world_size = 2, 3
local train = s:loader(ds, { batch_size = 2 })
check(#train == 2, "padded shard of 4 samples in 2 batches")
local eval = s:loader(data.DataLoader(ds, { batch_size = 2, shuffle = true, seed = 5 }), { eval = true })
local o = eval:options()
check(o.num_replicas == 3 and o.rank == 2 and o.pad == false and o.shuffle and o.seed == 5, "rebuilt from a loader")
local n = 0
for x in eval do n = n + x:size(1) end
check(n == 3, "eval shard of 3 samples")
)lua",
                       {"padded shard of 4 samples in 2 batches", "rebuilt from a loader", "eval shard of 3 samples"});
}

}  // namespace
}  // namespace trainrt::test
