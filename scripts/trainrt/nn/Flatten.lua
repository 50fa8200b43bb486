-- nn.Flatten([start_dim = 2 [, end_dim = -1]]): merges dims start..end (1-based,
-- so the default keeps the batch dim). x: (N, C, H, W) -> (N, C*H*W).
local Module = require "trainrt.nn.Module"

local Flatten = Module:extend("Flatten")

function Flatten:__init(start_dim, end_dim)
  self.start_dim = start_dim or 2
  self.end_dim = end_dim or -1
end

function Flatten:forward(x)
  return x:flatten(self.start_dim, self.end_dim)
end

function Flatten:extra_repr()
  return "start_dim=" .. self.start_dim .. ", end_dim=" .. self.end_dim
end

return Flatten
