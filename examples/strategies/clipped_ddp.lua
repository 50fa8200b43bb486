-- A strategy written by a user, not built into trainrt: DDP whose step clips
-- the global gradient norm first (torch.nn.utils.clip_grad_norm_). Because
-- the reducer has already averaged the gradients when backward returns, every
-- rank computes the same norm and takes the same step.
-- Run: trainrt launch --nproc-per-node 2 examples/mnist/train.lua --strategy examples/strategies/clipped_ddp.lua
-- Setting: [clipped_ddp] max_norm = 1.0 in trainrt.toml, or --set clipped_ddp.max_norm=0.5
local DDP = require "trainrt.strategies.ddp"

local ClippedDDP = DDP:extend("clipped_ddp")

function ClippedDDP:__init(opts)
  DDP.__init(self, opts)
  self.max_norm = opts.max_norm or self:settings().max_norm or 1.0
  self.clipped_steps = 0
end

function ClippedDDP:step(optimizer)
  local squares = 0
  for _, p in ipairs(self.model:parameters()) do
    local g = p:grad()
    if g then squares = squares + (g * g):sum():item() end
  end
  local norm = math.sqrt(squares)
  if norm > self.max_norm then
    local scale = self.max_norm / (norm + 1e-6)
    for _, p in ipairs(self.model:parameters()) do
      local g = p:grad()
      if g then g:copy_(g * scale) end
    end
    self.clipped_steps = self.clipped_steps + 1
  end
  return DDP.step(self, optimizer)
end

return ClippedDDP
