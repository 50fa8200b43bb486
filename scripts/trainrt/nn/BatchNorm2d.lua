-- nn.BatchNorm2d(num_features [, {eps, momentum, affine, track_running_stats}]).
-- x: (N, C, H, W); statistics per channel over N, H and W. See BatchNorm.lua.
local BatchNorm = require "trainrt.nn.BatchNorm"

local BatchNorm2d = BatchNorm:extend("BatchNorm2d")

function BatchNorm2d:_layout(x)
  if x:dim() ~= 4 then error(string.format("BatchNorm2d: expected 4D input (N, C, H, W), got %dD", x:dim()), 3) end
  return { 1, 3, 4 }, { 1, self.num_features, 1, 1 }
end

return BatchNorm2d
