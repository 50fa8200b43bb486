// nn.Sequential releases an intermediate as soon as the next layer has
// consumed it (scripts/trainrt/nn/Sequential.lua, t:_release in
// bind_tensor.cpp): a no_grad forward of a large batch holds about two
// activations, not all of them; a tensor a user still references (a module
// that keeps its output, the input, the result) stays valid; training through
// a Sequential gives the same gradients. And a phase of large tensors after
// small ones moves the CPU cache rather than adding to it (cpu_allocator.cpp).
#include <gtest/gtest.h>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(SequentialRelease, NoGradForwardPeaksNearTwoActivationsNotTheirSum) {
  expect_script_passes(R"lua(
local MB = 1024 * 1024
-- 12 element-wise layers over a 16 MiB batch: 192 MiB if every output stayed alive.
local layers = {}
for i = 1, 4 do
  layers[#layers + 1] = nn.ReLU(); layers[#layers + 1] = nn.Sigmoid(); layers[#layers + 1] = nn.Tanh()
end
local model = nn.Sequential(layers)
local x = trainrt.randn{1024, 4096}  -- 16 MiB
local act = x:numel() * 4
local y
trainrt.no_grad(function()
  y = model(x)  -- warm up the cache
  y:sum():item()
  y = nil
  collectgarbage()
  local before = trainrt.memory().live_bytes
  trainrt.reset_peak_memory()
  y = model(x)
  y:sum():item()
  local growth = trainrt.memory().peak_bytes - before
  print(string.format("peak growth %.1f MiB for activations of %.1f MiB", growth / MB, act / MB))
  check(growth <= 3 * act, "peak of a 12-layer no_grad forward is at most three activations")
end)
check_close(y, x:relu():sigmoid():tanh():relu():sigmoid():tanh():relu():sigmoid():tanh():relu():sigmoid():tanh(), 1e-6,
  "output of the released forward")
)lua",
                       {"peak of a 12-layer no_grad forward is at most three activations", "output of the released forward"});
}

TEST(SequentialRelease, TensorsAUserStillReferencesStayValid) {
  expect_script_passes(R"lua(
-- A user module that keeps its output (and one that keeps its input) beside built-in layers.
local Keep = nn.Module:extend("Keep")
function Keep:forward(x) self.last = x:relu(); return self.last end
local Look = nn.Module:extend("Look")
function Look:forward(x) self.seen = x; return x * 2 end
local keep, look = Keep(), Look()
local model = nn.Sequential{ nn.Tanh(), keep, nn.Sigmoid(), nn.Dropout(0.5), look, nn.ReLU(), nn.Flatten() }
model:eval()  -- Dropout returns its input as is
local x = trainrt.randn{64, 8, 8}
local expect_last = x:tanh():relu()
local y = trainrt.no_grad(function() return model(x) end)
collectgarbage()
check_close(x, x:clone(), 0, "the caller's input is never released")
check_close(keep.last, expect_last, 1e-6, "a module's kept output stays valid")
check_close(look.seen, expect_last:sigmoid(), 1e-6, "a module's kept input stays valid (after Dropout's pass-through)")
check_close(y, (expect_last:sigmoid() * 2):relu():flatten(2), 1e-6, "the result")
-- Nested: an inner Sequential that keeps nothing is itself released between outer layers.
local inner = nn.Sequential{ nn.ReLU(), nn.Tanh() }
check(inner:keeps_activations() == false, "a Sequential of built-in layers keeps no activations")
check(nn.Sequential{ nn.ReLU(), Keep() }:keeps_activations() == true, "one keeping child makes a Sequential keep")
local outer = nn.Sequential{ nn.Sigmoid(), inner, nn.ReLU() }
check_close(trainrt.no_grad(function() return outer(x) end), x:sigmoid():relu():tanh():relu(), 1e-6, "nested forward")
)lua",
                       {"the caller's input is never released", "a module's kept output stays valid",
                        "a module's kept input stays valid (after Dropout's pass-through)", "the result",
                        "a Sequential of built-in layers keeps no activations",
                        "one keeping child makes a Sequential keep", "nested forward"});
}

TEST(SequentialRelease, TrainingThroughASequentialGivesTheSameGradients) {
  expect_script_passes(R"lua(
trainrt.manual_seed(3)
local model = nn.Sequential{ nn.Conv2d(2, 4, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(4 * 4 * 4, 5), nn.Tanh(), nn.Linear(5, 3) }
local x = trainrt.randn{6, 2, 8, 8}
local loss = model(x):pow(2):mean()
loss:backward()
local by_sequential = {}
for i, p in ipairs(model:parameters()) do by_sequential[i] = p:grad():clone() end
model:zero_grad()
-- The same layers called one by one, keeping every intermediate.
local h = x
local kept = {}
for i = 1, #model do h = model[i](h); kept[i] = h end
h:pow(2):mean():backward()
for i, p in ipairs(model:parameters()) do check_close(p:grad(), by_sequential[i], 1e-6, "grad " .. i) end
check_close(loss, h:pow(2):mean(), 1e-6, "loss")
)lua",
                       {"grad 1", "grad 2", "grad 3", "grad 4", "grad 5", "grad 6", "loss"});
}

TEST(SequentialRelease, LargeTensorsAfterSmallOnesReuseTheCachedFootprint) {
  expect_script_passes(R"lua(
local MB = 1024 * 1024
trainrt.empty_cache()
-- "Training": 8 tensors of 6 MiB alive at once, then freed into the cache.
local t = {}
for i = 1, 8 do t[i] = trainrt.zeros{6 * MB / 4} end
for i = 1, 8 do t[i]:free() end
local cached_small = trainrt.memory().cached_bytes
check(cached_small >= 48 * MB, "freed blocks are cached")
-- "Evaluation": two 64 MiB tensors; their misses give the idle 6 MiB blocks back.
local a, b = trainrt.zeros{64 * MB / 4}, trainrt.zeros{64 * MB / 4}
a:sum():item(); b:sum():item()
check(trainrt.memory().cached_bytes == 0, "the idle class was released for the new size")
a:free(); b:free()
check(trainrt.memory().cached_bytes >= 128 * MB, "the new size is cached")
)lua",
                       {"freed blocks are cached", "the idle class was released for the new size",
                        "the new size is cached"});
}

}  // namespace
}  // namespace trainrt::test
