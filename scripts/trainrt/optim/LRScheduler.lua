-- optim.LRScheduler: the base of StepLR and CosineAnnealingLR
-- (torch.optim.lr_scheduler.LRScheduler). Construction sets the lr of epoch 0;
-- each :step() advances one epoch and writes the new lr into every param group.
-- Subclasses implement _lr_at(base_lr, epoch).
local LRScheduler = {}
LRScheduler.__index = LRScheduler
LRScheduler.__name = "LRScheduler"

local function construct(cls, ...)
  local self = setmetatable({}, cls)
  self:__init(...)
  return self
end

function LRScheduler:extend(name)
  local cls = setmetatable({}, { __index = self, __call = construct })
  cls.__index = cls
  cls.__name = name
  cls.super = self
  return cls
end
setmetatable(LRScheduler, { __call = construct })

-- Accepts X(optimizer, {opts}) and X{optimizer, opts...} (or optimizer = ...).
function LRScheduler.unpack_args(a, b)
  if b ~= nil then return a, b end
  if type(a) == "table" and a.param_groups == nil then return a.optimizer or a[1], a end
  return a, {}
end

function LRScheduler:__init(optimizer, last_epoch)
  if type(optimizer) ~= "table" or type(optimizer.param_groups) ~= "table" then
    error(self.__name .. ": an optimizer expected as first argument", 3)
  end
  self.optimizer = optimizer
  self.base_lrs = {}
  for i, group in ipairs(optimizer.param_groups) do
    group.initial_lr = group.initial_lr or group.lr
    self.base_lrs[i] = group.initial_lr
  end
  self.last_epoch = (last_epoch or -1)
  self:step()
end

function LRScheduler:_lr_at(base_lr, epoch)
  error(self.__name .. ":_lr_at is not implemented", 2)
end

-- Advances one epoch (or jumps to `epoch`) and sets each group's lr.
function LRScheduler:step(epoch)
  self.last_epoch = epoch or (self.last_epoch + 1)
  self._last_lr = {}
  for i, group in ipairs(self.optimizer.param_groups) do
    group.lr = self:_lr_at(self.base_lrs[i], self.last_epoch)
    self._last_lr[i] = group.lr
  end
end

-- The lr of each param group after the last step: {lr_group1, ...}.
function LRScheduler:get_last_lr()
  local out = {}
  for i, lr in ipairs(self._last_lr) do out[i] = lr end
  return out
end

function LRScheduler:state_dict()
  local base = {}
  for i, lr in ipairs(self.base_lrs) do base[i] = lr end
  return { last_epoch = self.last_epoch, base_lrs = base }
end

function LRScheduler:load_state_dict(sd)
  self.base_lrs = {}
  for i, lr in ipairs(sd.base_lrs) do self.base_lrs[i] = lr end
  self:step(sd.last_epoch)
end

return LRScheduler
