-- optim.SGD{params, lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false}:
-- torch.optim.SGD's update, one fused trainrt.F.sgd_step per parameter:
--   g = grad + wd * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g on the first step)
--   g = nesterov and g + momentum * buf or buf;  p = p - lr * g
local trainrt = require "trainrt"
local Optimizer = require "trainrt.optim.Optimizer"

local SGD = Optimizer:extend("SGD")

function SGD:__init(args, opts)
  Optimizer.__init(self, args, opts, { lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false })
end

function SGD:_check(o)
  if o.lr < 0 then error("SGD: invalid learning rate " .. o.lr, 4) end
  if o.momentum < 0 then error("SGD: invalid momentum " .. o.momentum, 4) end
  if o.weight_decay < 0 then error("SGD: invalid weight_decay " .. o.weight_decay, 4) end
  if o.nesterov and (o.momentum <= 0 or o.dampening ~= 0) then
    error("SGD: nesterov momentum requires a momentum and zero dampening", 4)
  end
end

function SGD:_update(p, grad, group, state)
  local first = state.momentum_buffer == nil
  if group.momentum ~= 0 and first then state.momentum_buffer = Optimizer.zeros_like(p) end
  -- without momentum there is no buffer (nil)
  trainrt.F.sgd_step(p, grad, state.momentum_buffer, {
    lr = group.lr, momentum = group.momentum, dampening = group.dampening,
    weight_decay = group.weight_decay, nesterov = group.nesterov,
  }, first)
end

return SGD
