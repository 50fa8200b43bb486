-- nn.Tanh: element-wise tanh, no parameters. x: any shape -> same shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Tanh = Module:extend("Tanh")

function Tanh:forward(x)
  return trainrt.F.tanh(x)
end

return Tanh
