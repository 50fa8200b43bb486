// trainrt.checkpoint from Lua through the binary: save/load round trips of
// model, optimizer, scheduler, generators and extra values (bit for bit,
// int64 beyond 2^53 included); PyTorch names in files; loading refuses a
// mismatched model in one message and leaves it untouched; int64 values reach
// Lua exactly (item, tolist, tensor{}, full, fill_).
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

// Lua helper: a and b have the same shape and equal elements (bit for bit for floats).
const char* kEqual = R"lua(
local function equal(a, b)
  return shape_str(a) == shape_str(b) and a:eq(b):long():sum():item() == a:numel()
end
)lua";

TEST(CheckpointLua, SaveLoadRoundTripsEveryPartBitForBit) {
  expect_script_passes(std::string(kEqual) + R"lua(
local ck = trainrt.checkpoint
trainrt.manual_seed(3)
local function make() return nn.Sequential{ nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2) } end
local model = make()
local opt = optim.Adam{ model:parameters(), lr = 0.01 }
local sched = optim.StepLR(opt, { step_size = 1, gamma = 0.5 })
local x = trainrt.randn(5, 4)
for _ = 1, 3 do opt:zero_grad(); model(x):sum():backward(); opt:step(); sched:step() end
local big = (1 << 62) + 1
ck.save("m.safetensors", { model = model, optimizer = opt, scheduler = sched, progress = { epoch = 2, step = 3 },
  extra = { best = math.huge, worst = -math.huge, big = big, ratio = 0.1, name = "run-1", flags = { true, false },
            ema = trainrt.arange(4):double() } })
local after = trainrt.rand({ 3 }, { dtype = "float64" })  -- the stream continues from the saved generators

local tensors, meta = ck.read("m.safetensors")
check(tensors["0.weight"] ~= nil and tensors["3.bias"] ~= nil and tensors["1.running_mean"] ~= nil
  and tensors["1.weight"] ~= nil and tensors["1.weight"]:size(1) == 3, "file names count from 0 (PyTorch)")
check(meta.format == "pt" and meta["trainrt.state"]:find("^m%.state%-%x+%.safetensors$"), "model file metadata")

trainrt.manual_seed(99)
local model2 = make()
local opt2 = optim.Adam{ model2:parameters(), lr = 0.7 }
local sched2 = optim.StepLR(opt2, { step_size = 1, gamma = 0.5 })
local info = ck.load("m.safetensors", { model = model2, optimizer = opt2, scheduler = sched2 })
local same = true
for name, t in pairs(model:state_dict()) do
  same = same and equal(model2:state_dict()[name], t)
end
check(same, "parameters and buffers equal")
for k, s in pairs(opt.state) do
  same = same and opt2.state[k].step == s.step and equal(opt2.state[k].exp_avg, s.exp_avg)
    and equal(opt2.state[k].exp_avg_sq, s.exp_avg_sq)
end
check(same and opt2.param_groups[1].lr == opt.param_groups[1].lr and opt2.param_groups[1].betas[2] == 0.999,
  "optimizer moments, steps and hyper-parameters")
check(sched2.last_epoch == sched.last_epoch and sched2:get_last_lr()[1] == sched:get_last_lr()[1], "scheduler")
check(info.progress.epoch == 2 and info.progress.step == 3, "progress")
local e = info.extra
check(e.best == math.huge and e.worst == -math.huge and e.big == big and math.type(e.big) == "integer"
  and e.ratio == 0.1 and e.name == "run-1" and e.flags[1] == true and e.flags[2] == false
  and e.ema:dtype() == "float64" and equal(e.ema, trainrt.arange(4):double()), "extra values exactly")
check(equal(trainrt.rand({ 3 }, { dtype = "float64" }), after), "generators restored")
)lua",
                       {"file names count from 0 (PyTorch)", "model file metadata", "parameters and buffers equal",
                        "optimizer moments, steps and hyper-parameters", "scheduler", "progress",
                        "extra values exactly", "generators restored"},
                       "--threads 1");
}

TEST(CheckpointLua, NamesMissingFromTheModelAreListedInOneMessageAndNothingIsTouched) {
  expect_script_passes(std::string(kEqual) + R"lua(
local ck = trainrt.checkpoint
ck.save("m.safetensors", { model = nn.Sequential{ nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2) } })
local other = nn.Sequential{ nn.Linear(4, 5), nn.Linear(5, 2), nn.Linear(2, 2) }
local before = other[1].weight:clone()
local ok, err = pcall(ck.load, "m.safetensors", { model = other })
check(not ok and err:find("^m%.safetensors: does not fit the model") and err:find("missing keys: 1.weight, 1.bias", 1, true)
  and err:find("size mismatch: 0.weight is (3, 4) in the file, (5, 4) in the model", 1, true)
  and err:find("2.weight is (2, 3) in the file, (2, 2) in the model", 1, true) and not err:find("\n"), "one message lists every key")
check(equal(other[1].weight, before), "a refused load leaves the model as it was")
local extra_layer = nn.Sequential{ nn.Linear(4, 3) }
ok, err = pcall(ck.load, "m.safetensors", { model = extra_layer })
check(not ok and err:find("unexpected keys: 2.bias, 2.weight", 1, true), "unexpected keys")
local r = ck.load("m.safetensors", { model = nn.Sequential{ nn.Linear(4, 3) }, strict = false })
check(r.path == "m.safetensors", "strict = false loads what fits")
ok, err = pcall(ck.load, "m.safetensors", { model = nn.Sequential{ nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2) },
  optimizer = optim.SGD{ nn.Linear(1, 1):parameters(), lr = 0.1 } })
check(not ok and err:find("no optimizer state", 1, true), "optimizer state absent is an error")
)lua",
                       {"one message lists every key", "a refused load leaves the model as it was", "unexpected keys",
                        "strict = false loads what fits", "optimizer state absent is an error"});
}

TEST(CheckpointLua, AnotherOptimizerOrAMissingStateFileIsRefused) {
  expect_script_passes(R"lua(
local ck = trainrt.checkpoint
local model = nn.Linear(2, 2)
local adam = optim.Adam{ model:parameters() }
model(trainrt.ones(1, 2)):sum():backward()
adam:step()
ck.save("a.safetensors", { model = model, optimizer = adam })
local ok, err = pcall(ck.load, "a.safetensors", { model = model, optimizer = optim.SGD{ model:parameters(), lr = 0.1 } })
check(not ok and err:find("holds Adam state, the optimizer is SGD", 1, true), "optimizer class")
local _, meta = ck.read("a.safetensors")
os.remove(meta["trainrt.state"])
ok, err = pcall(ck.load, "a.safetensors", { model = model, optimizer = adam })
check(not ok and err:find("a.safetensors: its state file a.state-", 1, true) and err:find("is missing; copy the two files together", 1, true),
  "missing state file")
check(ck.load("a.safetensors", { model = model }).progress == nil, "the weights load without their state file")
ck.write("w.safetensors", { ["weight"] = trainrt.ones(2, 2), ["bias"] = trainrt.zeros(2) })
check(ck.load("w.safetensors", { model = model }).progress == nil and model.weight:sum():item() == 4, "weights-only file loads")
ok, err = pcall(ck.load, "w.safetensors", { model = model, optimizer = adam })
check(not ok and err:find("has no training state", 1, true), "weights-only file has no optimizer state")
ok, err = pcall(ck.save, "x.safetensors", { model = model, extra = { f = print } })
check(not ok and err:find("extra.f is a function", 1, true), "extra refuses functions, naming the key")
)lua",
                       {"optimizer class", "missing state file", "the weights load without their state file",
                        "weights-only file loads",
                        "weights-only file has no optimizer state", "extra refuses functions, naming the key"});
}

TEST(CheckpointLua, ATamperedStateIsRefusedBeforeAnythingIsRestored) {
  expect_script_passes(std::string(kEqual) + R"lua(
local ck = trainrt.checkpoint
local model = nn.Linear(3, 2)
local opt = optim.SGD{ model:parameters(), lr = 0.1, momentum = 0.9 }
ck.save("t.safetensors", { model = model, optimizer = opt })
local _, meta = ck.read("t.safetensors")
local tensors, state_meta = ck.read(meta["trainrt.state"])
-- Rewrite the state file with one field broken at a time; the model must never change.
local function tampered(from, to)
  local text, n = state_meta["trainrt.state"]:gsub(from, to)
  assert(n == 1, "pattern not found: " .. from)
  ck.write(meta["trainrt.state"], tensors, { format = "trainrt-state", ["trainrt.state"] = text })
  local fresh = nn.Linear(3, 2)
  local before = fresh.weight:clone()
  local ok, err = pcall(ck.load, "t.safetensors", { model = fresh, optimizer = optim.SGD{ fresh:parameters(), lr = 0.5 } })
  return not ok and equal(fresh.weight, before) and err
end
local err = tampered('"device":"cpu:0"', '"device":"tpu"')
check(err and err:find("generator 1: device must be a name", 1, true), "bad generator state")
err = tampered('"lr":0.1', '"lr":"fast"')
check(err and err:find("optimizer group 1: lr is a string in the checkpoint, a number in the optimizer", 1, true),
  "bad hyper-parameter type")
err = tampered('"version":1', '"version":7')
check(err and err:find("state format version 7 is newer", 1, true), "newer format")
)lua",
                       {"bad generator state", "bad hyper-parameter type", "newer format"});
}

TEST(CheckpointLua, Int64ValuesReachLuaExactly) {
  expect_script_passes(R"lua(
local big = (1 << 62) + 1           -- not representable as a double
check(trainrt.tensor{ big }:item() == big, "tensor{} and item")
check(trainrt.tensor{ { 1, big }, { math.maxinteger, math.mininteger } }:tolist()[2][1] == math.maxinteger, "tolist")
check(trainrt.full({ 2 }, big):tolist()[2] == big, "full")
local t = trainrt.zeros({ 3 }, { dtype = "int64" }):fill_(big)
check(t[3]:item() == big and math.type(t[3]:item()) == "integer", "fill_")
check((t + 1)[1]:item() == big + 1 and (t - big):sum():item() == 0, "arithmetic with integers")
trainrt.checkpoint.write("i.safetensors", { v = t })
check(trainrt.checkpoint.read("i.safetensors").v[2]:item() == big, "through a file")
)lua",
                       {"tensor{} and item", "tolist", "full", "fill_", "arithmetic with integers", "through a file"});
}

}  // namespace
}  // namespace trainrt::test
