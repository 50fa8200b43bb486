-- The shared body of nn.MaxPool2d and nn.AvgPool2d (PyTorch's _MaxPoolNd /
-- _AvgPoolNd): argument handling and the printed line. Subclasses only say
-- which pooling function forward calls. Private: not in the nn manifest.
local Module = require "trainrt.nn.Module"

local Pool2d = Module:extend("_Pool2d")

-- (kernel_size [, stride] [, {stride = kernel_size, padding = 0}]); sizes are a
-- number or a pair {h, w}; stride defaults to the kernel size, as in PyTorch.
function Pool2d:__init(kernel_size, stride, opts)
  if type(stride) == "table" and opts == nil and #stride ~= 2 then stride, opts = nil, stride end
  opts = opts or {}
  self.kernel_size = kernel_size
  self.stride = stride or opts.stride or kernel_size
  self.padding = opts.padding or 0
  self._opts = { stride = self.stride, padding = self.padding }
end

local function str(v)
  if type(v) == "table" then return "(" .. v[1] .. ", " .. v[2] .. ")" end
  return tostring(v)
end

function Pool2d:extra_repr()
  return "kernel_size=" .. str(self.kernel_size) .. ", stride=" .. str(self.stride) .. ", padding=" .. str(self.padding)
end

return Pool2d
