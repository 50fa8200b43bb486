-- optim.Adam{params, lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0}:
-- torch.optim.Adam (L2 weight decay added to the gradient), one fused
-- trainrt.F.adam_step per parameter with bias correction by the step count.
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

function Adam:_update(p, grad, group, state)
  if state.step == nil then
    state.step = 0
    state.exp_avg = Optimizer.zeros_like(p)
    state.exp_avg_sq = Optimizer.zeros_like(p)
  end
  state.step = state.step + 1
  trainrt.F.adam_step(p, grad, state.exp_avg, state.exp_avg_sq, {
    lr = group.lr, beta1 = group.betas[1], beta2 = group.betas[2], eps = group.eps,
    weight_decay = group.weight_decay, decoupled = self._decoupled,
  }, state.step)
end

return Adam
