-- A strategy written by a user, not built into trainrt: local SGD (Stich 2019,
-- "Local SGD converges fast and communicates little"; PyTorch's
-- PostLocalSGDOptimizer). Every rank steps its optimizer on its own gradients,
-- with no all-reduce in backward, and every K steps the ranks average their
-- parameters (and floating-point buffers) with one all-reduce each. It is ddp
-- without the gradient reducer; optimizer state (momentum, Adam moments) stays
-- local. Not here: the warm-up of post-local SGD, hierarchical averaging.
-- Run: trainrt launch --nproc-per-node 2 examples/mnist/train.lua --strategy examples/strategies/local_sgd.lua
-- Settings: [local_sgd] in trainrt.toml, --set local_sgd.KEY=V, or trainrt.strategy(path, {k = 4}):
--   k (4): average every k optimizer steps; average_buffers (true): also
--   average BatchNorm running statistics (integer buffers follow rank 0).
-- Besides every k steps, the ranks also average (only if they stepped since the
-- last time) when the model enters eval mode (model:eval(), trainrt.fit's
-- evaluation), in save_checkpoint, and when the script calls strategy:average().
-- Every rank must do these together, as with any collective.
local trainrt = require "trainrt"
local Strategy = require "trainrt.strategies.Strategy"
local DDP = require "trainrt.strategies.ddp"

local LocalSGD = DDP:extend("local_sgd")

-- opts[key], else [local_sgd] key, else default; with where the value came from.
local function setting(self, key, default)
  if self.opts[key] ~= nil then return self.opts[key], ("trainrt.strategy(..., {%s = ...})"):format(key) end
  local v = self:settings()[key]
  if v ~= nil then
    local sources = type(trainrt.config_sources) == "table" and trainrt.config_sources or {}
    return v, sources["local_sgd." .. key] or "[local_sgd]"
  end
  return default, "default"
end

-- A wrong setting is the user's mistake: one line naming it, exit code 2, before joining the job.
local function refuse(where, message) trainrt.exit(2, ("%s: error: %s"):format(where, message)) end

local function show(v) return type(v) == "string" and ("'" .. v .. "'") or tostring(v) end

function LocalSGD:__init(opts)
  self.opts = opts
  local k, where = setting(self, "k", 4)
  local integer = type(k) == "number" and math.tointeger(k)
  if not integer or integer < 1 then
    refuse(where, ("local_sgd.k (average every k steps) must be an integer of at least 1, got %s"):format(show(k)))
  end
  local average_buffers, buffers_where = setting(self, "average_buffers", true)
  if type(average_buffers) ~= "boolean" then
    refuse(buffers_where, ("local_sgd.average_buffers must be true or false, got %s"):format(show(average_buffers)))
  end
  DDP.__init(self, opts)  -- joins the job: rank, world_size, self.job
  self.k, self.average_buffers = integer, average_buffers
  self.steps, self.local_steps, self.averages = 0, 0, 0
end

-- Like ddp's setup (model on the device, rank 0's parameters and buffers on
-- every rank) but without the gradient reducer, so backward stays local.
function LocalSGD:setup(model, optimizer)
  model, optimizer = Strategy.setup(self, model, optimizer)
  if self.model then error("local_sgd:setup: this strategy already set up a model; use one strategy per model", 2) end
  self.params, self.buffers = model:parameters(), model:buffers()
  self:_broadcast(self.params)
  self:_broadcast(self.buffers)
  self.model = model
  -- Evaluation sees the averaged model: switching the model to eval mode
  -- (model:eval() is model:train(false)) averages first. rawset: a function,
  -- not a submodule, so the model prints and saves as before.
  local strategy, train = self, model.train
  rawset(model, "train", function(m, mode)
    if mode == false and m.training then strategy:average() end
    return train(m, mode)
  end)
  return model, optimizer
end

function LocalSGD:backward(loss) loss:backward() end  -- no reducer: each rank keeps its own gradients
function LocalSGD:no_sync(fn) return fn() end         -- backward never synchronises anyway

function LocalSGD:step(optimizer)
  local result = optimizer:step()
  self.steps, self.local_steps = self.steps + 1, self.local_steps + 1
  if self.local_steps >= self.k then self:average() end
  return result
end

-- Every rank's parameters (and buffers) become their mean over the ranks:
-- bitwise equal on every rank afterwards. Returns false, without any
-- collective, when no rank has stepped since the last average.
function LocalSGD:average()
  if self.local_steps == 0 or not self.model then return false end
  local pending = {}
  for _, p in ipairs(self.params) do pending[#pending + 1] = self.job:all_reduce(p, "avg", true) end
  for _, b in ipairs(self.buffers) do
    if self.average_buffers and b:dtype():find("float", 1, true) then
      pending[#pending + 1] = self.job:all_reduce(b, "avg", true)
    else
      pending[#pending + 1] = self.job:broadcast(b, 0, true)  -- e.g. BatchNorm's num_batches_tracked
    end
  end
  for _, work in ipairs(pending) do work:wait() end
  self.local_steps, self.averages = 0, self.averages + 1
  return true
end

-- A checkpoint holds the averaged model (rank 0 writes it; the optimizer state
-- saved is rank 0's). After loading, every rank holds the same parameters.
function LocalSGD:save_checkpoint(path, state)
  self:average()
  return DDP.save_checkpoint(self, path, state)
end

function LocalSGD:load_checkpoint(path, objects)
  local info = DDP.load_checkpoint(self, path, objects)
  self.local_steps = 0
  return info
end

function LocalSGD:stats()
  return { k = self.k, steps = self.steps, averages = self.averages, steps_since_average = self.local_steps }
end

return LocalSGD
