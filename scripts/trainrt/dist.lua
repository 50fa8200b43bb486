-- trainrt.dist: collectives between the processes of a job (torch.distributed
-- for trainrt). Ranks are 0-based, as launchers number them.
--   local dist = require "trainrt.dist"
--   local env = dist.env()              -- {rank=, world_size=, local_rank=, source="env"|"mpi"|"slurm"|"none", ...}
--   dist.init()                          -- joins the job once: the store, then the process group
--   dist.all_reduce(t, "sum")            -- in place; also "avg", "max", "min"
--   local w = dist.all_reduce(t, "sum", {async = true}); ...; w:wait()
--   dist.broadcast(t, 0); dist.all_gather(t); dist.reduce_scatter(t, "sum"); dist.barrier()
-- Settings: --backend / [dist] backend (default nccl on cuda, gloo on cpu), --timeout /
-- [dist] timeout (seconds, default 300), [dist] rdzv (a store URL).
-- The native half is trainrt.core._dist (runtime/lua/bind_dist.cpp).
local trainrt = require "trainrt"
local native = trainrt._dist

local dist = {}

local job = nil

function dist.env()
  return native.env()
end

local function config_dist()
  local section = type(trainrt.config) == "table" and trainrt.config.dist
  return type(section) == "table" and section or {}
end

-- The backend for a device: [dist] backend / --backend, else gloo on cpu and nccl on cuda.
function dist.default_backend(device)
  local chosen = config_dist().backend
  if chosen then return chosen end
  if tostring(device or "cpu"):sub(1, 4) == "cuda" then return "nccl" end
  return "gloo"
end

-- Joins the job (once per process); later calls return the same group.
-- opts: backend, timeout (seconds), device ("cpu" or "cuda:N"), rdzv (store URL).
function dist.init(opts)
  if job then return job end
  opts = opts or {}
  local settings = config_dist()
  local device = opts.device or "cpu"
  local backend = opts.backend or dist.default_backend(device)
  local timeout = opts.timeout or settings.timeout or 300
  local rdzv = opts.rdzv or settings.rdzv
  job = native.join(backend, timeout, device, rdzv)
  return job
end

function dist.is_initialized() return job ~= nil end

local function group()
  if not job then error("trainrt.dist: call dist.init() first", 3) end
  return job
end

function dist.group() return group() end
function dist.rank() return job and job:rank() or dist.env().rank end
function dist.world_size() return job and job:size() or dist.env().world_size end

function dist.all_reduce(t, op, opts)
  return group():all_reduce(t, op or "sum", opts and opts.async)
end

function dist.broadcast(t, root, opts)
  return group():broadcast(t, root or 0, opts and opts.async)
end

function dist.all_gather(t) return group():all_gather(t) end
function dist.reduce_scatter(t, op) return group():reduce_scatter(t, op or "sum") end
function dist.barrier() return group():barrier() end

-- The DDP reducer over params (a list of leaves) named names (for messages).
-- opts: bucket_mb (25), first_bucket_mb (1), find_unused (false).
function dist.reducer(params, names, opts)
  return native.reducer(group(), params, names, opts or {})
end

return dist
