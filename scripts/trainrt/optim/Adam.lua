-- optim.Adam{params, lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0}:
-- torch.optim.Adam (L2 weight decay added to the gradient), with bias correction
-- by the step count. step() makes one fused trainrt.F.adam_step_multi launch per
-- parameter group (per step count, which differs only after a partial state was
-- loaded; the runtime splits by dtype/device); a lone parameter takes
-- trainrt.F.adam_step. State per parameter is unchanged: step, exp_avg, exp_avg_sq.
local trainrt = require "trainrt"
local Optimizer = require "trainrt.optim.Optimizer"

local Adam = Optimizer:extend("Adam")
Adam._decoupled = false

function Adam:__init(args, opts)
  Optimizer.__init(self, args, opts, { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0 })
end

function Adam:_check(o)
  if o.lr < 0 then error(self.__name .. ": invalid learning rate " .. o.lr, 4) end
  if o.eps < 0 then error(self.__name .. ": invalid eps " .. o.eps, 4) end
  for i = 1, 2 do
    local b = o.betas[i]
    if type(b) ~= "number" or b < 0 or b >= 1 then
      error(self.__name .. ": invalid beta at index " .. i .. ": " .. tostring(b), 4)
    end
  end
  if o.weight_decay < 0 then error(self.__name .. ": invalid weight_decay " .. o.weight_decay, 4) end
end

local function init_state(p, state)
  if state.step == nil then
    state.step = 0
    state.exp_avg = Optimizer.zeros_like(p)
    state.exp_avg_sq = Optimizer.zeros_like(p)
  end
end

function Adam:_options(group)
  return {
    lr = group.lr, beta1 = group.betas[1], beta2 = group.betas[2], eps = group.eps,
    weight_decay = group.weight_decay, decoupled = self._decoupled,
  }
end

function Adam:_update(p, grad, group, state)
  init_state(p, state)
  state.step = state.step + 1
  trainrt.F.adam_step(p, grad, state.exp_avg, state.exp_avg_sq, self:_options(group), state.step)
end

-- Per group, the parameters with a gradient are updated by one adam_step_multi
-- per step count (counts differ only after a partial state was loaded). A
-- subclass that overrides _update keeps the per-parameter path.
function Adam:_update_group(group, updates)
  if self._update ~= Adam._update then
    for _, u in ipairs(updates) do self:_update(u[1], u[2], group, u[3]) end
    return
  end
  local buckets, order = {}, {}  -- step count -> {params, grads, exp_avgs, exp_avg_sqs}
  for _, u in ipairs(updates) do
    local p, grad, state = u[1], u[2], u[3]
    init_state(p, state)
    state.step = state.step + 1
    local b = buckets[state.step]
    if b == nil then
      b = { {}, {}, {}, {} }
      buckets[state.step] = b
      order[#order + 1] = state.step
    end
    local n = #b[1] + 1
    b[1][n], b[2][n], b[3][n], b[4][n] = p, grad, state.exp_avg, state.exp_avg_sq
  end
  local opts = self:_options(group)
  for _, step in ipairs(order) do
    local b = buckets[step]
    if #b[1] == 1 then
      trainrt.F.adam_step(b[1][1], b[2][1], b[3][1], b[4][1], opts, step)
    else
      trainrt.F.adam_step_multi(b[1], b[2], b[3], b[4], opts, step)
    end
  end
end

return Adam
