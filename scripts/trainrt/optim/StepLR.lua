-- optim.StepLR(optimizer, {step_size = n, gamma = 0.1}): the lr of every group
-- is multiplied by gamma every step_size epochs: lr = base_lr * gamma^floor(epoch / step_size).
local LRScheduler = require "trainrt.optim.LRScheduler"

local StepLR = LRScheduler:extend("StepLR")

function StepLR:__init(a, b)
  local optimizer, opts = LRScheduler.unpack_args(a, b)
  self.step_size = opts.step_size
  self.gamma = opts.gamma or 0.1
  if math.type(self.step_size) ~= "integer" or self.step_size < 1 then
    error("StepLR: step_size must be a positive integer", 2)
  end
  LRScheduler.__init(self, optimizer, opts.last_epoch)
end

function StepLR:_lr_at(base_lr, epoch)
  return base_lr * self.gamma ^ (epoch // self.step_size)
end

return StepLR
