-- optim.CosineAnnealingLR(optimizer, {T_max = n, eta_min = 0}): cosine decay from
-- the base lr to eta_min over T_max epochs (SGDR without restarts):
--   lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
local LRScheduler = require "trainrt.optim.LRScheduler"

local CosineAnnealingLR = LRScheduler:extend("CosineAnnealingLR")

function CosineAnnealingLR:__init(a, b)
  local optimizer, opts = LRScheduler.unpack_args(a, b)
  self.T_max = opts.T_max
  self.eta_min = opts.eta_min or 0
  if type(self.T_max) ~= "number" or self.T_max <= 0 then error("CosineAnnealingLR: T_max must be positive", 2) end
  LRScheduler.__init(self, optimizer, opts.last_epoch)
end

function CosineAnnealingLR:_lr_at(base_lr, epoch)
  return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
end

return CosineAnnealingLR
