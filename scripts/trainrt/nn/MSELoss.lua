-- nn.MSELoss([{reduction = "mean"}]): mean (or sum, or none) of (input - target)^2.
-- input, target: same shape -> scalar, or that shape for "none".
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local MSELoss = Module:extend("MSELoss")

function MSELoss:__init(opts)
  self.reduction = (opts and opts.reduction) or "mean"
  self._opts = { reduction = self.reduction }
end

function MSELoss:forward(input, target)
  return trainrt.F.mse_loss(input, target, self._opts)
end

function MSELoss:extra_repr()
  return "reduction=" .. self.reduction
end

return MSELoss
