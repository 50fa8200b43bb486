-- nn.BatchNorm1d(num_features [, {eps, momentum, affine, track_running_stats}]).
-- x: (N, C) or (N, C, L); statistics per channel over N (and L). See BatchNorm.lua.
local BatchNorm = require "trainrt.nn.BatchNorm"

local BatchNorm1d = BatchNorm:extend("BatchNorm1d")

function BatchNorm1d:_layout(x)
  local d = x:dim()
  if d == 2 then return { 1 }, { 1, self.num_features } end
  if d == 3 then return { 1, 3 }, { 1, self.num_features, 1 } end
  error(string.format("BatchNorm1d: expected 2D or 3D input (N, C[, L]), got %dD", d), 3)
end

return BatchNorm1d
