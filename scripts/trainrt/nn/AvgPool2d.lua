-- nn.AvgPool2d(kernel_size [, stride] [, {stride = kernel_size, padding = 0}]): 2-d pooling, no parameters.
-- x: (N, C, H, W) -> (N, C, H_out, W_out). Sizes are a number or a pair {h, w};
-- stride defaults to the kernel size, as in PyTorch. Arguments and printing: _Pool2d.lua.
local trainrt = require "trainrt"
local Pool2d = require "trainrt.nn._Pool2d"

local AvgPool2d = Pool2d:extend("AvgPool2d")

function AvgPool2d:forward(x)
  return trainrt.F.avg_pool2d(x, self.kernel_size, self._opts)
end

return AvgPool2d
