-- nn.Sigmoid: element-wise sigmoid, no parameters. x: any shape -> same shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Sigmoid = Module:extend("Sigmoid")

function Sigmoid:forward(x)
  return trainrt.F.sigmoid(x)
end

return Sigmoid
