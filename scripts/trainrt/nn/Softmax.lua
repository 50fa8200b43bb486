-- nn.Softmax([dim = -1]): softmax along dim (1-based, negative from the end). x: any shape -> same shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Softmax = Module:extend("Softmax")

function Softmax:__init(dim)
  self.dim = dim or -1
end

function Softmax:forward(x)
  return trainrt.F.softmax(x, self.dim)
end

function Softmax:extra_repr()
  return "dim=" .. self.dim
end

return Softmax
