-- Strategy: the one small object a training script talks to, so that the same
-- script runs on one device or many (Lightning Fabric, Hugging Face Accelerate).
-- This base class is the single-process behaviour; `single` is it unchanged,
-- `ddp` overrides what differs, and a user's strategy extends it the same way:
--   local Strategy = require "trainrt.strategies.Strategy"
--   local Mine = Strategy:extend("mine")
--   function Mine:step(optimizer) ... end
--   return Mine
-- The interface (docs/strategies.md):
--   strategy.name, .rank (0-based), .world_size, .local_rank, .device
--   strategy:setup(model [, optimizer])     -> model, optimizer   (replicate, sync initial state)
--   strategy:loader(dataset_or_loader [, options]) -> this rank's DataLoader; options.eval = true:
--                                              every sample exactly once over all ranks
--   strategy:to_device(x, y, ...)            -> the tensors on strategy.device
--   strategy:backward(loss); strategy:step(optimizer); strategy:no_sync(fn)
--   strategy:compile(step_fn)                -> the step captured and replayed (trainrt.compile),
--                                              or step_fn itself where the strategy cannot capture it
--   strategy:reduce(x [, op])                -> x reduced over ranks: a number, a list of numbers
--                                              or a tensor; op "sum" (default), "mean", "max", "min"
--   strategy:is_main(); strategy:barrier(); strategy:print(...); strategy:stats()
--   strategy:save_checkpoint(path, state); strategy:load_checkpoint(path, objects)  (trainrt.checkpoint)
--   strategy:checkpointer{model=, optimizer=, ...} -> periodic saves and resume (Checkpointer.lua)
local trainrt = require "trainrt"
local data = require "trainrt.data"

local Strategy = {}
Strategy.__index = Strategy
Strategy.name = "strategy"

local function construct(cls, opts)
  local self = setmetatable({}, cls)
  self:__init(opts or {})
  return self
end

function Strategy:extend(name)
  assert(type(name) == "string", "Strategy:extend(name): name must be a string")
  local cls = setmetatable({}, { __index = self, __call = construct })
  cls.__index = cls
  cls.__tostring = self.__tostring  -- metamethods are looked up raw on the metatable
  cls.name = name
  cls.super = self
  return cls
end
Strategy.new = construct
setmetatable(Strategy, { __call = construct })

-- The section of trainrt.config named after the strategy ([ddp] for ddp), or {}.
function Strategy:settings()
  local section = type(trainrt.config) == "table" and trainrt.config[self.name]
  return type(section) == "table" and section or {}
end

function Strategy:__init(opts)
  self.opts = opts
  self.rank, self.world_size, self.local_rank = 0, 1, 0
  self.device = opts.device or trainrt.device or "cpu"
end

function Strategy:is_main() return self.rank == 0 end

local function on_cpu(device) return device == nil or device:sub(1, 3) == "cpu" end

-- Moves the model to self.device; an optimizer built before the move is
-- pointed at the moved parameters.
function Strategy:setup(model, optimizer)
  if on_cpu(self.device) then return model, optimizer end
  local before = model:parameters()
  model:to(self.device)
  if optimizer then
    local after, moved = model:parameters(), {}
    for i, p in ipairs(before) do moved[p] = after[i] end
    for _, group in ipairs(optimizer.param_groups) do
      for i, p in ipairs(group.params) do group.params[i] = moved[p] or p end
    end
  end
  return model, optimizer
end

function Strategy:to_device(...)
  if on_cpu(self.device) then return ... end
  local out = table.pack(...)
  for i = 1, out.n do
    if trainrt.is_tensor(out[i]) and out[i]:device() ~= self.device then out[i] = out[i]:to(self.device) end
  end
  return table.unpack(out, 1, out.n)
end

-- This rank's loader: a dataset plus DataLoader options, or an existing
-- DataLoader re-built for this rank (its batch size is per process, as in
-- PyTorch DDP). options.eval = true: no sample repeated to even out shards.
function Strategy:loader(source, options)
  options = options or {}
  local dataset, built = source, {}
  if data.is_loader(source) then
    dataset = source:dataset()
    for k, v in pairs(source:options()) do built[k] = v end
  end
  for k, v in pairs(options) do if k ~= "eval" then built[k] = v end end
  built.num_replicas, built.rank = self.world_size, self.rank
  built.pad = not options.eval
  if data.is_loader(source) and self.world_size == 1 and options.eval == nil then return source end
  return data.DataLoader(dataset, built)
end

function Strategy:backward(loss) loss:backward() end
function Strategy:step(optimizer) return optimizer:step() end
function Strategy:no_sync(fn) return fn() end
-- One device, kernels only: the step can be captured and replayed natively.
function Strategy:compile(step_fn) return trainrt.compile(step_fn) end
function Strategy:barrier() end
function Strategy:stats() return {} end

function Strategy:print(...)
  if self:is_main() then print(...) end
end

-- Checkpoints (trainrt.checkpoint): every rank calls these. One process writes
-- and reads; ddp overrides save_checkpoint so that rank 0 alone writes.
function Strategy:save_checkpoint(path, state) return (require "trainrt.checkpoint").save(path, state) end
function Strategy:load_checkpoint(path, objects) return (require "trainrt.checkpoint").load(path, objects) end

-- A Checkpointer for this strategy; opts.checkpoint (or the strategy's own
-- opts.checkpoint) = {dir=, every_epochs=, every_steps=, keep_last=, resume=}.
function Strategy:checkpointer(opts)
  opts = opts or {}
  local merged = {}
  for k, v in pairs(opts) do merged[k] = v end
  if merged.checkpoint == nil and type(self.opts.checkpoint) == "table" then merged.checkpoint = self.opts.checkpoint end
  merged.strategy = self
  return (require "trainrt.checkpoint").Checkpointer.new(merged)
end

local REDUCE_OPS = { sum = true, mean = true, max = true, min = true }

function Strategy:_check_reduce(x, op)
  op = op or "sum"
  if not REDUCE_OPS[op] then
    error(("%s:reduce: op must be sum, mean, max or min, got %s"):format(self.name, tostring(op)), 3)
  end
  local kind = type(x)
  if not (kind == "number" or trainrt.is_tensor(x) or (kind == "table" and #x > 0)) then
    error(("%s:reduce: expected a number, a list of numbers or a tensor, got %s"):format(self.name, kind), 3)
  end
  return op
end

-- One process: every reduction is the value itself (a copy for lists and tensors).
function Strategy:reduce(x, op)
  self:_check_reduce(x, op)
  if trainrt.is_tensor(x) then return x:clone() end
  if type(x) == "table" then return { table.unpack(x) } end
  return x
end

function Strategy:__tostring()
  return ("%s(rank %d of %d, device %s)"):format(self.name, self.rank, self.world_size, self.device)
end

return Strategy
