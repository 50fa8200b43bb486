-- ddp: one process per device, as PyTorch's DistributedDataParallel under
-- torchrun. Started by `trainrt launch` (or torchrun-style variables, mpirun,
-- srun), each process joins the job's process group. setup() broadcasts rank
-- 0's parameters and buffers and hands the parameters to the native reducer,
-- which averages gradients in ~25 MB buckets while backward is still running;
-- loader() shards the data (batch size per process) and the loader advances
-- its epoch itself, so the shuffle differs every epoch without set_epoch.
-- Settings ([ddp] in trainrt.toml, --set ddp.KEY=V, or trainrt.strategy("ddp", {...})):
--   find_unused_parameters (false), bucket_mb (25), first_bucket_mb (1: the
--   last layers' bucket starts sooner when small), broadcast_buffers (true).
local trainrt = require "trainrt"
local dist = require "trainrt.dist"
local Strategy = require "trainrt.strategies.Strategy"

local DDP = Strategy:extend("ddp")

local function setting(self, key, default)
  if self.opts[key] ~= nil then return self.opts[key] end
  local v = self:settings()[key]
  if v ~= nil then return v end
  return default
end

function DDP:__init(opts)
  Strategy.__init(self, opts)
  local env = dist.env()
  if self.device:sub(1, 4) == "cuda" then self.device = "cuda:" .. env.local_rank end
  self.find_unused = setting(self, "find_unused_parameters", false)
  self.bucket_mb = setting(self, "bucket_mb", 25)
  self.first_bucket_mb = setting(self, "first_bucket_mb", 1)
  self.broadcast_buffers = setting(self, "broadcast_buffers", true)
  self.job = dist.init{ device = self.device, backend = opts.backend, timeout = opts.timeout }
  self.rank, self.world_size, self.local_rank = self.job:rank(), self.job:size(), env.local_rank
end

-- Rank 0's values of every tensor in list, in place.
function DDP:_broadcast(list)
  for _, t in ipairs(list) do self.job:broadcast(t, 0) end
end

function DDP:setup(model, optimizer)
  model, optimizer = Strategy.setup(self, model, optimizer)
  if self.reducer then error("ddp:setup: this strategy already set up a model; use one strategy per model", 2) end
  local params, names = {}, {}
  for name, p in model:named_parameters() do
    params[#params + 1], names[#names + 1] = p, name
  end
  self:_broadcast(params)
  self.buffers = model:buffers()
  self:_broadcast(self.buffers)
  self.reducer = dist.reducer(params, names, { bucket_mb = self.bucket_mb, first_bucket_mb = self.first_bucket_mb,
                                                   find_unused = self.find_unused })
  self.model = model
  return model, optimizer
end

-- Gradients are averaged by the reducer during backward; buffers (e.g.
-- BatchNorm running statistics) follow rank 0 after each step, as PyTorch's
-- broadcast_buffers does before each forward.
function DDP:step(optimizer)
  local result = optimizer:step()
  if self.broadcast_buffers and self.buffers and #self.buffers > 0 and self.reducer:sync() then
    self:_broadcast(self.buffers)
  end
  return result
end

-- The reducer's collectives run from autograd hooks during backward, outside
-- any kernel a plan could replay: a DDP step runs eagerly.
function DDP:compile(step_fn) return step_fn end

-- Runs fn with gradient averaging off: gradients accumulate locally and the
-- next synchronised backward averages the sum (gradient accumulation).
function DDP:no_sync(fn)
  if not self.reducer then return fn() end
  self.reducer:set_sync(false)
  local result = table.pack(pcall(fn))
  self.reducer:set_sync(true)
  if not result[1] then error(result[2], 0) end
  return table.unpack(result, 2, result.n)
end

local NATIVE_OP = { sum = "sum", mean = "sum", max = "max", min = "min" }

function DDP:reduce(x, op)
  op = self:_check_reduce(x, op)
  local t
  if trainrt.is_tensor(x) then
    t = x:contiguous():clone()
  else
    t = trainrt.tensor(type(x) == "table" and x or { x }, { dtype = "float64" })
  end
  -- The communicator moves tensors of this rank's device (NCCL: CUDA only), as
  -- with torch.distributed; a host value goes there and back.
  local home = t:device()
  if self.device:sub(1, 4) == "cuda" and home ~= self.device then t = t:to(self.device) end
  self.job:all_reduce(t, NATIVE_OP[op])
  if t:device() ~= home then t = t:to(home) end
  if op == "mean" then t = t / self.world_size end
  if trainrt.is_tensor(x) then return t end
  local values = t:tolist()
  if type(x) == "table" then return values end
  return values[1]
end

function DDP:barrier() self.job:barrier() end

-- Rank 0 writes; every rank returns once the files are in place (the all-reduce
-- that tells every rank whether the write succeeded is the barrier), so a rank
-- never reads a checkpoint that is still being written. Every rank reads on load.
function DDP:save_checkpoint(path, state)
  local ok, err = true, nil
  if self:is_main() then ok, err = pcall(Strategy.save_checkpoint, self, path, state) end
  if self:reduce(ok and 0 or 1, "max") > 0 then
    error(ok and ("checkpoint: rank 0 failed to save " .. path) or err, 0)
  end
  if not self:is_main() then trainrt.metrics.checkpoint_saved() end  -- rank 0 counted it in checkpoint.save
  return path
end

function DDP:stats()
  if not self.reducer then return {} end
  return self.reducer:stats()
end

return DDP
