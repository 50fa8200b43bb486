-- nn.AvgPool2d(kernel_size [, stride] [, {stride = kernel_size, padding = 0}]): 2-d pooling, no parameters.
-- x: (N, C, H, W) -> (N, C, H_out, W_out). Sizes are a number or a pair {h, w};
-- stride defaults to the kernel size, as in PyTorch.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local AvgPool2d = Module:extend("AvgPool2d")

function AvgPool2d:__init(kernel_size, stride, opts)
  if type(stride) == "table" and opts == nil and #stride ~= 2 then stride, opts = nil, stride end
  opts = opts or {}
  self.kernel_size = kernel_size
  self.stride = stride or opts.stride or kernel_size
  self.padding = opts.padding or 0
  self._opts = { stride = self.stride, padding = self.padding }
end

function AvgPool2d:forward(x)
  return trainrt.F.avg_pool2d(x, self.kernel_size, self._opts)
end

local function str(v)
  if type(v) == "table" then return "(" .. v[1] .. ", " .. v[2] .. ")" end
  return tostring(v)
end

function AvgPool2d:extra_repr()
  return "kernel_size=" .. str(self.kernel_size) .. ", stride=" .. str(self.stride) .. ", padding=" .. str(self.padding)
end

return AvgPool2d
