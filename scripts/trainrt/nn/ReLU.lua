-- nn.ReLU: element-wise relu, no parameters. x: any shape -> same shape.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local ReLU = Module:extend("ReLU")

function ReLU:forward(x)
  return trainrt.F.relu(x)
end

return ReLU
