// Logical CPU devices and the mirrored strategy in one process, through the
// real binary: --devices and `devices =` (and their one-line refusals),
// trainrt.devices and `trainrt devices`, trainrt.cat from Lua, and mirrored's
// promises: an uneven global batch gives the gradients of one device, replicas
// stay bitwise identical (Adam, a scheduler, BatchNorm), gradient accumulation
// under no_sync, and replica 1 standing for the model in state dicts.
// The three-way equivalence with single and ddp is in tests/dist/mirrored_test.cpp.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

std::filesystem::path dir_with_script(const std::string& body) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "s.lua") << body;
  return dir;
}

TEST(Devices, BadSpecsAreOneLineUsageErrorsNamingTheFlag) {
  std::filesystem::path dir = dir_with_script("print('script ran')\n");
  const std::pair<const char*, const char*> cases[] = {
      {"cpu:1,cpu:0", "trainrt: --devices: 'cpu:1,cpu:0' lists cpu:1 at position 1, expected cpu:0"},
      {"cpu:0,cpu:2", "lists cpu:2 at position 2, expected cpu:1"},
      {"cpu:0,,cpu:1", "empty device name at position 2"},
      {"cuda:0,cpu:1", "'cuda:0,cpu:1' mixes CPU and CUDA devices; list one kind"},
      {"tpu:0", "'tpu:0' is not a device such as cpu:0"},
      {"0", "the device count must be between 1 and 256, got 0"},
      {"''", "trainrt: --devices: no devices given"},
  };
  for (const auto& [spec, needle] : cases) {
    ScriptResult r = run_trainrt(std::string("train s.lua --devices ") + spec, dir);
    EXPECT_EQ(r.exit_code, 2) << spec << ": " << r.output;
    EXPECT_EQ(r.output.rfind("trainrt: --devices: ", 0), 0u) << spec << ": " << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << spec << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << spec << ": one line: " << r.output;
    EXPECT_EQ(r.output.find("script ran"), std::string::npos) << spec;
  }
  ScriptResult r = run_trainrt("train s.lua --devices", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--devices expects LIST, got nothing"), std::string::npos) << r.output;
}

TEST(Devices, BadConfigValuesNameTheFileAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"devices = \"cpu:1\"", "trainrt.toml:2: error: devices: 'cpu:1' lists cpu:1 at position 1, expected cpu:0"},
      {"devices = [\"cpu:0\", 1]", "trainrt.toml:2: error: devices must be a list of device names"},
      {"devices = 0", "trainrt.toml:2: error: devices must be a count between 1 and 256, got 0"},
      {"devices = true", "trainrt.toml:2: error: devices must be \"cpu:0,cpu:1\""},
  };
  for (const auto& [line, needle] : cases) {
    std::filesystem::path dir = dir_with_script("print('script ran')\n");
    std::ofstream(dir / "trainrt.toml") << "threads = 2\n" << line << "\n";
    ScriptResult r = run_trainrt("train s.lua", dir);
    EXPECT_EQ(r.exit_code, 2) << line << ": " << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << line << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << line << ": one line: " << r.output;
  }
}

TEST(Devices, ListedToLuaFromTheFlagTheConfigAndTheThreads) {
  const char* script = "print('devices=' .. table.concat(trainrt.devices, ','))\n";
  std::filesystem::path dir = dir_with_script(script);
  const std::pair<const char*, const char*> cases[] = {
      {"", "devices=cpu:0\n"},
      {"--devices cpu:0,cpu:1", "devices=cpu:0,cpu:1\n"},
      {"--devices 3", "devices=cpu:0,cpu:1,cpu:2\n"},
      {"--devices=cpu:* --threads 2", "devices=cpu:0,cpu:1\n"},
      {"--set devices=2", "devices=cpu:0,cpu:1\n"},
  };
  for (const auto& [flags, expected] : cases) {
    ScriptResult r = run_trainrt(std::string("train s.lua ") + flags, dir);
    EXPECT_EQ(r.exit_code, 0) << flags << ": " << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << flags << ": " << r.output;
  }
  std::ofstream(dir / "trainrt.toml") << "devices = [\"cpu:0\", \"cpu:1\"]\n";
  ScriptResult r = run_trainrt("train s.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("devices=cpu:0,cpu:1\n"), std::string::npos) << r.output;
}

TEST(Devices, TheDevicesCommandListsEachDeviceWithItsThreads) {
  std::filesystem::path dir = make_temp_dir();
  ScriptResult r = run_trainrt("devices --devices cpu:0,cpu:1 --threads 4", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("using 4 (--threads), 2 logical devices (--devices)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu:0  2 threads\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu:1  2 threads\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cuda:"), std::string::npos) << r.output;
  r = run_trainrt("devices --devices 3 --threads 1", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cpu:2  1 thread\n"), std::string::npos) << r.output;
  r = run_trainrt("devices --devices cpu:2", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(LuaCat, JoinsAlongOneBasedDimsWithGradients) {
  expect_script_passes(R"lua(
local a = trainrt.tensor({ { 1, 2 }, { 3, 4 } })
local b = trainrt.tensor({ { 5, 6 } })
local c = trainrt.cat({ a, b })
check(shape_str(c) == "(3, 2)" and c[3][2]:item() == 6 and c[1][1]:item() == 1, "dim 1 by default")
local w = trainrt.cat({ a, a:mul(10) }, 2)
check(shape_str(w) == "(2, 4)" and w[2][4]:item() == 40, "dim 2")
check(shape_str(trainrt.cat({ a, a }, -1)) == "(2, 4)", "negative dim")
local x = trainrt.randn({ 3, 2 }, { dtype = "float64" }):requires_grad(true)
local y = trainrt.randn({ 1, 2 }, { dtype = "float64" }):requires_grad(true)
check(trainrt.gradcheck(function(p, q) return trainrt.cat({ p, q, p }, 1) end, { x, y }), "gradcheck")
local ok, err = pcall(trainrt.cat, {})
check(not ok and tostring(err):find("non-empty list of tensors", 1, true), "empty list")
ok, err = pcall(trainrt.cat, { a, 3 })
check(not ok and tostring(err):find("element 2 of the list is a number"), "not a tensor")
ok, err = pcall(trainrt.cat, { a, a }, 3)
check(not ok and tostring(err):find("dim 3 out of range"), "bad dim")
ok, err = pcall(trainrt.cat, { a, trainrt.zeros({ 1, 3 }, { dtype = a:dtype() }) })
check(not ok and tostring(err):find("cat: tensor 2 has shape (1, 3), tensor 1 (2, 2)", 1, true), "shapes named")
ok, err = pcall(trainrt.cat, { a, a:to("cpu:1") })
check(not ok and tostring(err):find("cat: tensor 2 is on cpu:1, tensor 1 on cpu:0", 1, true), "devices named")
)lua",
                       {"dim 1 by default", "dim 2", "negative dim", "gradcheck", "empty list", "not a tensor",
                        "bad dim", "shapes named", "devices named"},
                       "--devices 2");
}

TEST(Mirrored, AnUnevenGlobalBatchGivesTheGradientsOfOneDevice) {
  expect_script_passes(R"lua(
local Mirrored = require "trainrt.strategies.mirrored"
local function list(t) return table.concat(t, ",") end
local sizes = Mirrored.Model.split_sizes
check(list(sizes(5, 2)) == "3,2" and list(sizes(1, 2)) == "1" and list(sizes(7, 3)) == "3,2,2" and
      list(sizes(6, 3)) == "2,2,2", "split as evenly as possible, first replicas larger")
local function build()
  trainrt.manual_seed(5)
  return nn.Sequential{ nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3) }
end
trainrt.manual_seed(9)
local criterion = nn.CrossEntropyLoss()
local ref = build()
local s = trainrt.strategy()
check(s.name == "mirrored" and s.num_replicas == 2 and tostring(s) == "mirrored(2 replicas on cpu:0, cpu:1)",
      "two replicas from --devices")
local model = s:setup(build())
for _, n in ipairs({ 5, 1 }) do  -- 5 over 2 replicas; 1 sample: replica 2 idle
  local x = trainrt.randn({ n, 4 })
  local labels = {}
  for i = 1, n do labels[i] = (7 * i) % 3 end
  local y = trainrt.tensor(labels, { dtype = "int64" })
  ref:zero_grad()
  criterion(ref(x), y):backward()
  model:zero_grad()
  local out = model(x)
  check(out:device() == "cpu:0" and out:size(1) == n, n .. ": outputs gathered on cpu:0 in order")
  s:backward(criterion(out, y))
  local rp, mp = ref:parameters(), model:parameters()
  for i = 1, #rp do check_close(mp[i]:grad(), rp[i]:grad(), 1e-6, n .. ": gradient " .. i) end
  check(s:replica_parameters(2)[1]:grad() == nil, n .. ": replica 2's own gradients dropped after the sum")
end
check(s:replica_parameters(2)[1]:device() == "cpu:1", "replica 2 lives on cpu:1")
)lua",
                       {"split as evenly as possible, first replicas larger", "two replicas from --devices",
                        "5: outputs gathered on cpu:0 in order", "5: gradient 4", "1: gradient 4",
                        "5: replica 2's own gradients dropped after the sum", "replica 2 lives on cpu:1"},
                       "--strategy mirrored --devices cpu:0,cpu:1");
}

TEST(Mirrored, ReplicasStayBitwiseIdenticalWithAdamASchedulerAndBatchNorm) {
  expect_script_passes(R"lua(
local s = trainrt.strategy()
trainrt.manual_seed(3)
local model = nn.Sequential{ nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3) }
local opt = optim.Adam{ model:parameters(), lr = 1e-2, weight_decay = 1e-3 }
local sched = optim.StepLR(opt, { step_size = 2, gamma = 0.5 })
model, opt = s:setup(model, opt)
local criterion = nn.CrossEntropyLoss()
local function flat(p) return p:detach():to("cpu:0"):reshape({ p:numel() }):tolist() end
local function identical(a, b)
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return #a == #b
end
local initial = flat(model:parameters()[1])
for step = 1, 7 do
  local x = trainrt.randn({ 8 + step, 4 })  -- uneven for 3 replicas on most steps
  local labels = {}
  for i = 1, 8 + step do labels[i] = (5 * i + step) % 3 end
  local y = trainrt.tensor(labels, { dtype = "int64" })
  opt:zero_grad()
  s:backward(criterion(model(x), y))
  s:step(opt)
  sched:step()
end
check(not identical(initial, flat(model:parameters()[1])), "the model trained")
for r = 2, 3 do
  local mine, theirs = s:replica_parameters(1), s:replica_parameters(r)
  local same = #mine == #theirs
  for i = 1, #mine do same = same and identical(flat(mine[i]), flat(theirs[i])) end
  check(same, "replica " .. r .. " bitwise identical")
  check(s._optimizers[opt][r].param_groups[1].lr == opt.param_groups[1].lr and opt.param_groups[1].lr < 1e-2,
        "replica " .. r .. " follows the scheduler")
end
local names = {}
for name in pairs(model:state_dict()) do names[#names + 1] = name end
table.sort(names)
check(table.concat(names, " ") == "1.bias 1.weight 2.bias 2.running_mean 2.running_var 2.weight 4.bias 4.weight",
      "state_dict is replica 1's, under the plain model's names")
check(model:num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3 and #model:parameters() == 6, "parameters of one replica")
check(tostring(model):find("^Sequential%(") ~= nil and model[2].__name == "BatchNorm1d", "prints and indexes as replica 1")
model:eval()
check(s:replicas()[3].training == false and model.training == false, "eval reaches every replica")
)lua",
                       {"the model trained", "replica 2 bitwise identical", "replica 3 bitwise identical",
                        "replica 2 follows the scheduler", "replica 3 follows the scheduler",
                        "state_dict is replica 1's, under the plain model's names", "parameters of one replica",
                        "prints and indexes as replica 1", "eval reaches every replica"},
                       "--strategy mirrored --devices 3 --seed 4");
}

TEST(Mirrored, NoSyncAccumulatesAndLoadingAStateDictReachesEveryReplica) {
  expect_script_passes(R"lua(
local s = trainrt.strategy("mirrored", { devices = { "cpu:0", "cpu:1" } })
local function build()
  trainrt.manual_seed(7)
  return nn.Sequential{ nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2) }
end
local ref = build()
local model = s:setup(build())
local xs = { trainrt.randn({ 4, 3 }), trainrt.randn({ 3, 3 }) }
for _, x in ipairs(xs) do ref(x):pow(2):sum():backward() end
model:zero_grad()
s:no_sync(function() s:backward(model(xs[1]):pow(2):sum()) end)
check(s:replica_parameters(2)[1]:grad() ~= nil, "no_sync leaves gradients on their replica")
s:backward(model(xs[2]):pow(2):sum())
local rp, mp = ref:parameters(), model:parameters()
for i = 1, #rp do check_close(mp[i]:grad(), rp[i]:grad(), 1e-5, "accumulated gradient " .. i) end
local other = build()
for _, p in ipairs(other:parameters()) do p:detach():fill_(0.25) end
model:load_state_dict(other:state_dict())
check(s:replica_parameters(2)[3]:detach():sum():item() == 0.25 * 10, "load_state_dict reaches replica 2")
local late = optim.SGD{ model:parameters(), lr = 0.5 }  -- built after setup: replicated at its first step
late:zero_grad()
s:backward(model(xs[1]):sum())
s:step(late)
check(s:replica_parameters(2)[1]:detach():to("cpu:0"):eq(model:parameters()[1]):float():mean():item() == 1,
      "an optimizer built after setup steps every replica")
local stray = optim.SGD{ { trainrt.zeros({ 2 }):requires_grad(true) }, lr = 0.1 }
local ok, err = pcall(function() s:step(stray) end)
check(not ok and tostring(err):find("parameter 1 of the optimizer's group 1 is not one of the model's", 1, true),
      "an optimizer over other tensors is refused")
)lua",
                       {"no_sync leaves gradients on their replica", "accumulated gradient 4",
                        "load_state_dict reaches replica 2", "an optimizer built after setup steps every replica",
                        "an optimizer over other tensors is refused"},
                       "--devices 2");
}

}  // namespace
}  // namespace trainrt::test
