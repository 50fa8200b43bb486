-- trainrt.nn: the module library, one class per file (torch/nn's manifest).
-- local nn = require "trainrt.nn"; nn.Sequential{nn.Linear(784, 10)}; nn.functional is trainrt.F.
local trainrt = require "trainrt"

local nn = {}

-- The manifest: every module this package ships.
local MODULES = {
  "Module",
  "Sequential",
  "Linear",
  "Conv2d",
  "ReLU",
  "Sigmoid",
  "Tanh",
  "MaxPool2d",
  "AvgPool2d",
  "Flatten",
  "Dropout",
  "BatchNorm",
  "BatchNorm1d",
  "BatchNorm2d",
  "Softmax",
  "LogSoftmax",
  "CrossEntropyLoss",
  "MSELoss",
  "PluginLayer",
}
for _, name in ipairs(MODULES) do nn[name] = require("trainrt.nn." .. name) end

nn.functional = trainrt.F
nn.F = trainrt.F

return nn
