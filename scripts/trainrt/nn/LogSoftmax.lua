-- nn.LogSoftmax([dim = -1]): log_softmax along dim (1-based, negative from the end). x: any shape -> same shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local LogSoftmax = Module:extend("LogSoftmax")

function LogSoftmax:__init(dim)
  self.dim = dim or -1
end

function LogSoftmax:forward(x)
  return trainrt.F.log_softmax(x, self.dim)
end

function LogSoftmax:extra_repr()
  return "dim=" .. self.dim
end

return LogSoftmax
