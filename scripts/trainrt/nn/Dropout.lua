-- nn.Dropout([p = 0.5]): in training zeroes each element with probability p and
-- scales the rest by 1/(1-p); the identity in eval mode. x: any shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Dropout = Module:extend("Dropout")

function Dropout:__init(p)
  self.p = p or 0.5
  if self.p < 0 or self.p > 1 then error("nn.Dropout: p must be in [0, 1], got " .. self.p, 3) end
end

function Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  return trainrt.F.dropout(x, self.p, true)
end

function Dropout:extra_repr()
  return "p=" .. self.p
end

return Dropout
