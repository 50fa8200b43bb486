// trainrt.compile through the real binary: a captured and replayed training
// step gives the eager step's losses and parameters (the seed CNN with its
// fusions, an MLP under SGD with momentum and an LR schedule), a new input
// signature (the last, smaller batch) is captured again, intermediates share
// an arena, and a step a replay could not reproduce runs eagerly with the
// reason: a host read of the loss, a random draw, gradients accumulated
// without zero_grad, a table argument. Composed activations run as
// elementwise_chain kernels, bit for bit the eager results.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

// train(build, make_opt, compiled, batches, schedule?) -> losses, model, step
const char* kHarness = R"lua(
local function train(build, make_opt, compiled, sizes, with_schedule)
  trainrt.manual_seed(1)
  local model = build()
  local opt = make_opt(model:parameters())
  local scheduler = with_schedule and optim.StepLR(opt, { step_size = 2, gamma = 0.5 }) or nil
  local criterion = nn.CrossEntropyLoss()
  local function step(x, y)
    opt:zero_grad()
    local loss = criterion(model(x), y)
    loss:backward()
    opt:step()
    return loss
  end
  local run = compiled and trainrt.compile(step) or step
  trainrt.manual_seed(7)
  local losses = {}
  for i, n in ipairs(sizes) do
    local x = trainrt.randn({ n, 1, 28, 28 })
    local y = (trainrt.rand({ n }) * 10):long()
    losses[i] = run(x, y):item()
    if scheduler then scheduler:step() end
  end
  return losses, model, run
end
local function cnn()
  return nn.Sequential{
    nn.Conv2d(1, 8, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Linear(32, 10) }
end
local function mlp()
  return nn.Sequential{ nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10) }
end
local function compare(name, build, make_opt, sizes, tol, with_schedule)
  local a, ma = train(build, make_opt, false, sizes, with_schedule)
  local b, mb, step = train(build, make_opt, true, sizes, with_schedule)
  for i = 1, #a do check_close(b[i], a[i], tol, name .. " loss " .. i) end
  local pa, pb = ma:parameters(), mb:parameters()
  for i = 1, #pa do check_close(pb[i]:detach(), pa[i]:detach(), tol, name .. " parameter " .. i) end
  return step
end
)lua";

TEST(Compile, SeedCnnReplayMatchesEagerWithFusionsAndARecaptureForTheLastBatch) {
  expect_script_passes(std::string(kHarness) + R"lua(
local step = compare("cnn", cnn, function(ps) return optim.Adam{ ps, lr = 1e-3 } end, { 32, 32, 32, 32, 20, 20 }, 1e-5)
local info = step:info()
check(#info.plans == 2 and info.replays == 4 and info.eager_calls == 0, "two signatures captured, four replays")
local p = info.plans[1]
local fused = table.concat(p.fusions, ",")
check(fused:find("conv2d+relu", 1, true) ~= nil, "conv2d and relu fused: " .. fused)
check(fused:find("max_pool2d_backward+relu_backward", 1, true) ~= nil, "pool backward folds relu backward")
check(fused:find("conv2d_backward_weight+bias", 1, true) ~= nil, "conv bias gradient from the weight pass")
check(fused:find("channel_blocked_layout", 1, true) ~= nil, "activations around the 8-channel conv kept channel-blocked")
check(fused:find("max_pool2d_backward_relu+conv2d_backward_weight_bias", 1, true) ~= nil,
  "the first layer's weight gradient reads the pooling's gradient planes as they are made")
check(p.kernels < p.kernels_recorded, "fusion removed kernels")
check(p.arena_bytes > 0 and p.arena_bytes < p.intermediate_bytes, "intermediates share an arena smaller than their sum")
)lua",
                       {"cnn loss 1", "cnn loss 6", "cnn parameter 8", "two signatures captured, four replays",
                        "pool backward folds relu backward", "conv bias gradient from the weight pass",
                        "activations around the 8-channel conv kept channel-blocked",
                        "the first layer's weight gradient reads the pooling's gradient planes as they are made",
                        "fusion removed kernels", "intermediates share an arena smaller than their sum"});
}

TEST(Compile, ChannelBlockedLayoutChangesNoBitOfTheTraining) {
  // The layout pass (runtime/compile/channel_blocked.cpp) moves values, never
  // changes a sum: a run with it and one without (TRAINRT_COMPILE_LAYOUT=nchw)
  // print the same losses and parameters to the last bit (%a). The model: two
  // convolutions with 8+ input channels (oneDNN's) between poolings.
  const char* script = R"lua(
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
trainrt.manual_seed(1)
local model = nn.Sequential{
  nn.Conv2d(1, 8, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(8, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(16, 16, 3, { padding = 1 }), nn.ReLU(),
  nn.Flatten(), nn.Linear(16 * 7 * 7, 10) }
local opt = optim.Adam{ model:parameters(), lr = 1e-2 }
local criterion = nn.CrossEntropyLoss()
local step = trainrt.compile(function(x, y)
  opt:zero_grad()
  local loss = criterion(model(x), y)
  loss:backward()
  opt:step()
  return loss
end)
trainrt.manual_seed(7)
for i = 1, 4 do
  local x, y = trainrt.randn({ 16, 1, 28, 28 }), (trainrt.rand({ 16 }) * 10):long()
  print(string.format("loss %d %a", i, step(x, y):item()))
end
for i, p in ipairs(model:parameters()) do
  local v = p:detach():reshape({ -1 }):tolist()
  print(string.format("param %d %a %a %a", i, v[1], v[#v // 2], v[#v]))
end
print("fusions " .. table.concat(step:info().plans[1].fusions, ","))
)lua";
  std::filesystem::path dir = test::make_temp_dir();
  std::ofstream(dir / "layout.lua") << script;
  ScriptResult blocked = run_trainrt("train layout.lua", dir);
  ScriptResult nchw = run_trainrt("train layout.lua", dir, "TRAINRT_COMPILE_LAYOUT=nchw");
  ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  ASSERT_EQ(nchw.exit_code, 0) << nchw.output;
  auto results = [](const std::string& out) { return out.substr(0, out.find("fusions ")); };
  EXPECT_NE(blocked.output.find("channel_blocked_layout"), std::string::npos) << blocked.output;
  EXPECT_EQ(nchw.output.find("channel_blocked_layout"), std::string::npos) << nchw.output;
  EXPECT_NE(blocked.output.find("param 8 "), std::string::npos) << blocked.output;
  EXPECT_EQ(results(blocked.output), results(nchw.output));
}

TEST(Compile, NoGradEvaluationMatchesEagerAndFusesTheInPlaceRelu) {
  // Under no_grad nn.Sequential applies a ReLU to its intermediate in place
  // (relu_); the plan folds that into the convolution as well. A Conv2d ->
  // ReLU -> MaxPool2d run is one conv2d_relu_max_pool2d kernel already.
  expect_script_passes(std::string(kHarness) + R"lua(
trainrt.manual_seed(3)
local model = nn.Sequential{
  nn.Conv2d(1, 8, 3, { padding = 1 }), nn.ReLU(),
  nn.Conv2d(8, 16, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(16 * 14 * 14, 32), nn.ReLU(), nn.Linear(32, 10) }
model:eval()
local criterion = nn.CrossEntropyLoss()
local function evaluate(x, y)
  local logits = model(x)
  return criterion(logits, y) * x:size(1), logits:argmax(2):eq(y):float():sum()
end
local step = trainrt.compile(evaluate)
for i = 1, 3 do
  local x, y = trainrt.randn{ 50, 1, 28, 28 }, (trainrt.rand{ 50 } * 10):long()
  trainrt.no_grad(function()
    local el, ec = evaluate(x, y)
    local cl, cc = step(x, y)
    check_close(cl:item(), el:item(), 1e-6, "eval loss " .. i)
    check(cc:item() == ec:item(), "eval correct " .. i)
  end)
end
local p = step:info().plans[1]
check(table.concat(p.fusions, ","):find("conv2d+relu", 1, true) ~= nil, "in-place relu fused into the convolution")
local kernels = table.concat(p.kernel_names, " ")
print("evaluation kernels: " .. kernels)
check(kernels:find("^conv2d_relu conv2d_relu_max_pool2d ") ~= nil, "conv, relu, pool block as one kernel")
check(p.arena_bytes < p.intermediate_bytes, "evaluation activations share the arena")
local ok, err = pcall(function() trainrt.randn{ 3 }:requires_grad(true):relu_() end)
check(not ok and err:find("relu_: in place on a tensor that requires grad", 1, true) ~= nil, "relu_ refuses a grad leaf")
)lua",
                       {"eval loss 1", "eval correct 3", "in-place relu fused into the convolution",
                        "conv, relu, pool block as one kernel", "evaluation activations share the arena", "relu_ refuses a grad leaf"});
}

TEST(Compile, ElementWiseChainsRunAsOneKernelAndMatchEagerBitForBit) {
  // An MLP whose activations are compositions of element-wise ops (GELU's tanh
  // form, SiLU as x * sigmoid(x)): their forward and backward runs become
  // elementwise_chain nodes, and the results are the eager ones exactly.
  expect_script_passes(std::string(kHarness) + R"lua(
local Composed = nn.Module:extend("Composed")
function Composed:__init()
  self.l1, self.l2, self.l3 = nn.Linear(784, 48), nn.Linear(48, 32), nn.Linear(32, 10)
end
local function gelu(h) return h * 0.5 * (F.tanh((h + h * h * h * 0.044715) * 0.7978845608) + 1) end
local function silu(h) return h * F.sigmoid(h) end
function Composed:forward(x)
  return self.l3(silu(self.l2(gelu(self.l1(x:reshape{ x:size(1), 784 })))))
end
local step = compare("composed", function() return Composed() end,
                     function(ps) return optim.SGD{ ps, lr = 0.05, momentum = 0.9 } end, { 16, 16, 16, 16 }, 0)
local p = step:info().plans[1]
local chains = {}
for _, f in ipairs(p.fusions) do
  if f:find("elementwise chain", 1, true) then chains[#chains + 1] = f end
end
print("chains: " .. table.concat(chains, " | "))
print("kernels: " .. p.kernels_recorded .. " recorded, " .. p.kernels .. " planned")
check(#chains >= 2, "forward and backward chains fused")
check(table.concat(chains, " "):find("tanh", 1, true) ~= nil and table.concat(chains, " "):find("sigmoid", 1, true) ~= nil,
      "both activations")
local kernels = table.concat(p.kernel_names, " ")
check(select(2, kernels:gsub("elementwise_chain", "")) == #chains, "one kernel per chain")
check(p.kernels_recorded - p.kernels >= 10, "at least ten kernels folded away")
)lua",
                       {"composed loss 1", "composed loss 4", "composed parameter 6", "forward and backward chains fused",
                        "both activations", "one kernel per chain", "at least ten kernels folded away"});
}

TEST(Compile, MlpWithSgdMomentumAndAStepScheduleMatchesEager) {
  // The learning rate changes between replays: the optimizer's update is a host
  // node, so every replay uses the current one.
  expect_script_passes(std::string(kHarness) + R"lua(
compare("mlp", mlp, function(ps) return optim.SGD{ ps, lr = 0.1, momentum = 0.9 } end, { 16, 16, 16, 16, 16 }, 0, true)
)lua",
                       {"mlp loss 1", "mlp loss 5", "mlp parameter 6"});
}

TEST(Compile, ZeroGradOutsideTheStepIsNotSilentlyWrong) {
  // zero_grad() between calls drops the gradient tensors the plan writes: the
  // optimizer (a host node) would then see no gradient and skip the update.
  // The plan notices, captures again, and after three times runs eagerly.
  expect_script_passes(std::string(kHarness) + R"lua(
local function run(compiled)
  trainrt.manual_seed(1)
  local model = mlp()
  local opt = optim.SGD{ model:parameters(), lr = 0.1 }
  local criterion = nn.CrossEntropyLoss()
  local function step(x, y)
    local loss = criterion(model(x), y)
    loss:backward()
    opt:step()
    return loss
  end
  local f = compiled and trainrt.compile(step) or step
  trainrt.manual_seed(7)
  local losses = {}
  for i = 1, 6 do
    local x, y = trainrt.randn{ 16, 1, 28, 28 }, (trainrt.rand{ 16 } * 10):long()
    opt:zero_grad()
    losses[i] = f(x, y):item()
  end
  return losses, f
end
local a = run(false)
local b, f = run(true)
for i = 1, #a do check_close(b[i], a[i], 0, "loss " .. i .. " as eager") end
local reason = f:info().plans[1].eager_reason or ""
check(reason:find("zero_grad() outside the compiled step", 1, true) ~= nil, "runs eagerly and says why")
)lua",
                       {"loss 2 as eager", "loss 6 as eager", "runs eagerly and says why"});
}

TEST(Compile, StepsAReplayCannotReproduceRunEagerlyAndSayWhy) {
  ScriptResult r = run_lua_script(std::string(kLuaCheckPrelude) + R"lua(
local model = nn.Sequential{ nn.Linear(4, 3), nn.Dropout(0.5) }
local opt = optim.SGD{ model:parameters(), lr = 0.1 }
local x, y = trainrt.randn{ 8, 4 }, (trainrt.rand{ 8 } * 3):long()
local crit = nn.CrossEntropyLoss()
local function check_eager(name, fn, ...)
  local step = trainrt.compile(fn)
  for _ = 1, 3 do step(...) end
  local info = step:info()
  check(info.replays == 0 and #info.plans == 1 and info.plans[1].eager_reason ~= nil, name .. " runs eagerly")
  return info.plans[1].eager_reason
end
model:eval()
local reason = check_eager("host read", function(a, b)
  opt:zero_grad()
  local loss = crit(model(a), b)
  if loss:item() > 100 then return nil end
  loss:backward(); opt:step(); return loss
end, x, y)
check(reason:find("reads a tensor on the host", 1, true) ~= nil, "host read reason")
model:train()
reason = check_eager("dropout", function(a, b)
  opt:zero_grad(); local loss = crit(model(a), b); loss:backward(); opt:step(); return loss
end, x, y)
check(reason:find("random", 1, true) ~= nil, "random reason")
model:eval()
reason = check_eager("accumulation", function(a, b)
  local loss = crit(model(a), b); loss:backward(); opt:step(); return loss
end, x, y)
check(reason:find("zero_grad", 1, true) ~= nil, "accumulation reason")
local fail_once = true
local flaky = trainrt.compile(function(a)
  if fail_once then fail_once = false; error("first call fails") end
  return a * 2
end)
check(not pcall(flaky, trainrt.ones{ 2 }), "an error in the step reaches the caller")
check_close(flaky(trainrt.ones{ 2 }), trainrt.full({ 2 }, 2), 0, "the next call captures afresh")
check(#flaky:info().plans == 1 and flaky:info().plans[1].kernels ~= nil, "after an error the step is still captured")
local step = trainrt.compile(function(t) return #t end)
check(step({ 1, 2 }) == 2, "a table argument is accepted")
check(step:info().eager_calls == 1, "a table argument runs eagerly")
)lua");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* what : {"ok host read runs eagerly", "ok host read reason", "ok random reason",
                           "ok the next call captures afresh", "ok after an error the step is still captured",
                           "ok accumulation reason", "ok a table argument runs eagerly"})
    EXPECT_NE(r.output.find(what), std::string::npos) << what << "\n" << r.output;
  EXPECT_NE(r.output.find("trainrt.compile: the step runs eagerly for inputs ((8, 4), (8)) because it reads a tensor on "
                          "the host"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace trainrt::test
