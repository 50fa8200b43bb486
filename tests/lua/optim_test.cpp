// trainrt.optim through the real binary: two steps of SGD (momentum,
// dampening, nesterov, weight decay), Adam and AdamW against the update
// formulas of torch.optim written out by hand in the script, optimizer state
// round trips, param groups, and the learning-rate schedulers' sequences.
#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

// run(name, make_optimizer, update): two steps on a float64 parameter with fixed
// gradients (through loss = sum(p * g)); update(p, g, state, t) is the
// hand-written formula on plain numbers for one element.
const char* kTwoStepHarness = R"lua(
local P0 = { 1.0, -2.0, 0.5 }
local GRADS = { { 0.1, -0.3, 0.2 }, { -0.2, 0.4, 0.05 } }
local function run(name, make_optimizer, update)
  local p = trainrt.tensor(P0, { dtype = "float64" }):requires_grad(true)
  local opt = make_optimizer({ p })
  local expected, states = {}, {}
  for i = 1, #P0 do expected[i] = P0[i]; states[i] = {} end
  for t = 1, 2 do
    opt:zero_grad()
    local g = trainrt.tensor(GRADS[t], { dtype = "float64" })
    ;(p * g):sum():backward()
    opt:step()
    for i = 1, #P0 do expected[i] = update(expected[i], GRADS[t][i], states[i], t) end
    check_close(p:detach(), trainrt.tensor(expected, { dtype = "float64" }), 1e-12, name .. " step " .. t)
  end
  return p, opt
end
)lua";

TEST(Optim, SgdVariantsMatchHandComputedUpdates) {
  expect_script_passes(std::string(kTwoStepHarness) + R"lua(
local function sgd_formula(lr, momentum, dampening, wd, nesterov)
  return function(p, g, s, t)
    local d = g + wd * p
    if momentum ~= 0 then
      if t == 1 then s.buf = d else s.buf = momentum * s.buf + (1 - dampening) * d end
      if nesterov then d = d + momentum * s.buf else d = s.buf end
    end
    return p - lr * d
  end
end
run("sgd plain", function(ps) return optim.SGD{ ps, lr = 0.1 } end, sgd_formula(0.1, 0, 0, 0, false))
run("sgd momentum dampening", function(ps) return optim.SGD{ ps, lr = 0.1, momentum = 0.9, dampening = 0.3 } end,
  sgd_formula(0.1, 0.9, 0.3, 0, false))
run("sgd nesterov weight decay",
  function(ps) return optim.SGD{ ps, lr = 0.05, momentum = 0.8, nesterov = true, weight_decay = 0.1 } end,
  sgd_formula(0.05, 0.8, 0, 0.1, true))
run("sgd (params, opts) form", function(ps) return optim.SGD(ps, { lr = 0.2, momentum = 0.5 }) end,
  sgd_formula(0.2, 0.5, 0, 0, false))
local ok, err = pcall(function() optim.SGD{ { trainrt.zeros(1):requires_grad(true) }, lr = 0.1, nesterov = true } end)
check(not ok and err:find("nesterov", 1, true), "nesterov without momentum is refused")
ok, err = pcall(function() optim.SGD{ { trainrt.zeros(1):requires_grad(true) }, lr = 0.1, momentun = 0.9 } end)
check(not ok and err:find("unknown option 'momentun'", 1, true), "unknown option is refused")
)lua",
                       {"sgd plain step 1", "sgd plain step 2", "sgd momentum dampening step 1",
                        "sgd momentum dampening step 2", "sgd nesterov weight decay step 1",
                        "sgd nesterov weight decay step 2", "sgd (params, opts) form step 2",
                        "nesterov without momentum is refused", "unknown option is refused"});
}

TEST(Optim, AdamAndAdamWMatchHandComputedUpdates) {
  expect_script_passes(std::string(kTwoStepHarness) + R"lua(
local function adam_formula(lr, b1, b2, eps, wd, decoupled)
  return function(p, g, s, t)
    if decoupled then p = p * (1 - lr * wd) else g = g + wd * p end
    s.m = b1 * (s.m or 0) + (1 - b1) * g
    s.v = b2 * (s.v or 0) + (1 - b2) * g * g
    local bc1, bc2 = 1 - b1 ^ t, 1 - b2 ^ t
    return p - lr / bc1 * s.m / (math.sqrt(s.v) / math.sqrt(bc2) + eps)
  end
end
run("adam defaults", function(ps) return optim.Adam{ ps } end, adam_formula(1e-3, 0.9, 0.999, 1e-8, 0, false))
run("adam betas weight decay",
  function(ps) return optim.Adam{ ps, lr = 0.1, betas = { 0.8, 0.99 }, eps = 1e-6, weight_decay = 0.1 } end,
  adam_formula(0.1, 0.8, 0.99, 1e-6, 0.1, false))
run("adamw default decay", function(ps) return optim.AdamW{ ps, lr = 0.1 } end,
  adam_formula(0.1, 0.9, 0.999, 1e-8, 0.01, true))
run("adamw weight decay", function(ps) return optim.AdamW{ ps, lr = 0.05, weight_decay = 0.5 } end,
  adam_formula(0.05, 0.9, 0.999, 1e-8, 0.5, true))
local _, opt = run("adam state", function(ps) return optim.Adam{ ps, lr = 0.01 } end,
  adam_formula(0.01, 0.9, 0.999, 1e-8, 0, false))
check(opt.state[1].step == 2 and trainrt.is_tensor(opt.state[1].exp_avg_sq), "adam state exposed")
)lua",
                       {"adam defaults step 1", "adam defaults step 2", "adam betas weight decay step 1",
                        "adam betas weight decay step 2", "adamw default decay step 2", "adamw weight decay step 1",
                        "adamw weight decay step 2", "adam state step 2", "adam state exposed"});
}

TEST(Optim, StateDictRoundTripContinuesIdentically) {
  expect_script_passes(R"lua(
trainrt.manual_seed(21)
local function make() local m = nn.Linear(4, 3); return m, optim.Adam{ m:parameters(), lr = 0.05 } end
local x, y = trainrt.randn(8, 4), trainrt.randn(8, 3)
local function train_step(m, opt)
  opt:zero_grad()
  F.mse_loss(m(x), y):backward()
  opt:step()
end
local a, oa = make()
train_step(a, oa); train_step(a, oa)
local b, ob = make()
b:load_state_dict(a:state_dict())
local sd = oa:state_dict()
check(sd.state[1].step == 2 and sd.param_groups[1].lr == 0.05 and sd.param_groups[1].params[2] == 2,
  "optimizer state_dict layout")
ob:load_state_dict(sd)
train_step(a, oa); train_step(b, ob)
check_close(b.weight, a.weight, 0, "resumed optimizer continues identically")
-- the loaded state is a copy: stepping a again must not change b's moments
local before = ob.state[1].exp_avg:clone()
train_step(a, oa)
check_close(ob.state[1].exp_avg, before, 0, "loaded state is a copy")
)lua",
                       {"optimizer state_dict layout", "resumed optimizer continues identically",
                        "loaded state is a copy"});
}

TEST(Optim, ParamGroupsUseTheirOwnOptions) {
  expect_script_passes(R"lua(
local a = trainrt.tensor({ 1.0 }, { dtype = "float64" }):requires_grad(true)
local b = trainrt.tensor({ 1.0 }, { dtype = "float64" }):requires_grad(true)
local opt = optim.SGD{ { { params = { a } }, { params = { b }, lr = 0.5 } }, lr = 0.1 }
;(a * 2):sum():backward(); (b * 2):sum():backward()
opt:step()
check_close(a:item(), 1 - 0.1 * 2, 1e-12, "group 1 uses the default lr")
check_close(b:item(), 1 - 0.5 * 2, 1e-12, "group 2 uses its own lr")
local m = nn.Linear(2, 2)
local o2 = optim.SGD{ m, lr = 0.1 }
check(#o2.param_groups[1].params == 2, "a module passed as params means its parameters")
)lua",
                       {"group 1 uses the default lr", "group 2 uses its own lr",
                        "a module passed as params means its parameters"});
}

TEST(Optim, SchedulersProduceTorchSequences) {
  expect_script_passes(R"lua(
local function lrs(make, n)
  local opt = optim.SGD{ { trainrt.zeros(1):requires_grad(true) }, lr = 0.1 }
  local sched = make(opt)
  local out = { sched:get_last_lr()[1] }
  for _ = 1, n do sched:step(); out[#out + 1] = opt.param_groups[1].lr end
  return out, sched
end
local got = lrs(function(o) return optim.StepLR(o, { step_size = 2, gamma = 0.5 }) end, 5)
local want = { 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 }
for i = 1, #want do check_close(got[i], want[i], 1e-12, "StepLR epoch " .. (i - 1)) end
local cos, sched = lrs(function(o) return optim.CosineAnnealingLR{ o, T_max = 4, eta_min = 0.01 } end, 4)
for e = 0, 4 do
  check_close(cos[e + 1], 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 4)) / 2, 1e-12, "cosine epoch " .. e)
end
check_close(sched:get_last_lr()[1], 0.01, 1e-12, "cosine reaches eta_min at T_max")
local sd = sched:state_dict()
check(sd.last_epoch == 4, "scheduler state_dict")
-- the scheduler's lr is the one the next step uses
local p = trainrt.tensor({ 0.0 }, { dtype = "float64" }):requires_grad(true)
local opt = optim.SGD{ { p }, lr = 1.0 }
local s = optim.StepLR(opt, { step_size = 1, gamma = 0.1 })
s:step()
p:sum():backward()
opt:step()
check_close(p:item(), -0.1, 1e-12, "optimizer steps with the scheduled lr")
)lua",
                       {"StepLR epoch 0", "StepLR epoch 2", "StepLR epoch 5", "cosine epoch 0", "cosine epoch 2",
                        "cosine epoch 4", "cosine reaches eta_min at T_max", "scheduler state_dict",
                        "optimizer steps with the scheduled lr"});
}

}  // namespace
}  // namespace trainrt::test
