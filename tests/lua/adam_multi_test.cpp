// optim.Adam / AdamW step every parameter of a group with one
// trainrt.F.adam_step_multi launch: the result must be bitwise the per-parameter
// trainrt.F.adam_step reference, also with a parameter that has no gradient,
// mixed dtypes, and parameters whose step counts differ (a partly loaded state).
#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(AdamMulti, AdamStepMultiMatchesPerParameterAdamStep) {
  expect_script_passes(R"lua(
trainrt.manual_seed(5)
local shapes = { { 4, 3 }, { 3 }, { 7, 5 }, { 1 } }
local function params(dtype)
  local ps = {}
  for i, s in ipairs(shapes) do ps[i] = trainrt.randn(s, { dtype = dtype }) end
  return ps
end
for _, dtype in ipairs({ "float32", "float64" }) do
  for _, decoupled in ipairs({ false, true }) do
    for _, wd in ipairs({ 0, 0.1 }) do
      local ref, multi = params(dtype), {}
      for i, p in ipairs(ref) do multi[i] = p:clone() end
      local m1, v1, m2, v2 = {}, {}, {}, {}
      for i, p in ipairs(ref) do
        m1[i] = trainrt.zeros(p:size(), { dtype = dtype }); v1[i] = m1[i]:clone()
        m2[i] = m1[i]:clone(); v2[i] = m1[i]:clone()
      end
      local opts = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = wd, decoupled = decoupled }
      for step = 1, 3 do
        local grads = {}
        for i, p in ipairs(ref) do grads[i] = trainrt.randn(p:size(), { dtype = dtype }) end
        for i = 1, #ref do trainrt.F.adam_step(ref[i], grads[i], m1[i], v1[i], opts, step) end
        trainrt.F.adam_step_multi(multi, grads, m2, v2, opts, step)
      end
      for i = 1, #ref do
        check_close(multi[i], ref[i], 0, "F.adam_step_multi param")
        check_close(m2[i], m1[i], 0, "F.adam_step_multi exp_avg")
        check_close(v2[i], v1[i], 0, "F.adam_step_multi exp_avg_sq")
      end
    end
  end
end
)lua",
                       {"F.adam_step_multi param", "F.adam_step_multi exp_avg", "F.adam_step_multi exp_avg_sq"});
}

TEST(AdamMulti, OptimizerStepIsBitwisePerParameterAdam) {
  expect_script_passes(R"lua(
-- A reference Adam that keeps the per-parameter path (a subclass overriding _update).
local function reference(cls)
  local R = cls:extend("Reference" .. cls.__name)
  function R:_update(p, grad, group, state) return cls._update(self, p, grad, group, state) end
  return R
end
for _, cls in ipairs({ optim.Adam, optim.AdamW }) do
  trainrt.manual_seed(9)
  local function make()
    local ps = { trainrt.randn(4, 3), trainrt.randn(3), trainrt.randn(2, 2), trainrt.randn(5, { dtype = "float64" }),
                 trainrt.randn(6) }
    for _, p in ipairs(ps) do p:requires_grad(true) end
    return ps
  end
  local a = make()
  local b = {}
  for i, p in ipairs(a) do b[i] = p:detach():clone():requires_grad(true) end
  local oa = cls{ a, lr = 0.05, weight_decay = 0.01 }
  local ob = reference(cls){ b, lr = 0.05, weight_decay = 0.01 }
  local function step(ps, opt, k, skip)
    opt:zero_grad()
    for i, p in ipairs(ps) do
      if i ~= skip then ((p * p):sum() * (0.1 * k * i)):backward() end
    end
    opt:step()
  end
  for k = 1, 3 do
    step(a, oa, k, 5)  -- parameter 5 has no gradient: skipped, no state
    step(b, ob, k, 5)
  end
  -- a state where the steps differ (parameter 5 starts now, the others are at 3)
  step(a, oa, 4)
  step(b, ob, 4)
  for i = 1, #a do check_close(a[i], b[i], 0, cls.__name .. " step matches per-parameter adam_step") end
  check(oa.state[5].step == 1 and oa.state[1].step == 4, cls.__name .. " keeps per-parameter step counts")
end
)lua",
                       {"Adam step matches per-parameter adam_step", "AdamW step matches per-parameter adam_step",
                        "Adam keeps per-parameter step counts", "AdamW keeps per-parameter step counts"});
}

}  // namespace
}  // namespace trainrt::test
