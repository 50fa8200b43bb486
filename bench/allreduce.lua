-- All-reduce bus bandwidth through the run's collective backend, one process
-- per device under `trainrt launch` (bench/gpu.sh: NCCL, one GPU per rank).
-- Times --iters float32 sum all-reduces of --mb MiB after --warmup, and prints
-- the mean time and busbw = 2 (n-1)/n * bytes / time, as nccl-tests report it.
-- Run: trainrt launch --nproc-per-node 2 bench/allreduce.lua --device cuda --backend nccl --mb 64
-- Not bench/allreduce_bench.cpp: that one compares coll-gloo with Gloo over threads.
local dist = require "trainrt.dist"

local args = trainrt.args{
  mb = { 64, help = "MiB per all-reduce", positive = true },
  iters = { 20, help = "timed all-reduces", min = 1 },
  warmup = { 5, help = "untimed all-reduces (communicator setup, NCCL channels)", min = 0 },
}

local env = dist.env()
local device = tostring(trainrt.device or "cpu")
if device:sub(1, 4) == "cuda" then device = "cuda:" .. env.local_rank end  -- as the ddp strategy places ranks
dist.init{ device = device }
local rank, n = dist.rank(), dist.world_size()
local count = math.floor(args.mb * 2 ^ 20 / 4)
local t = trainrt.ones({ count }):to(device)

local function wait_for_device() return t:narrow(1, 1, 1):sum():item() end  -- a host read: the device has finished

for _ = 1, args.warmup do dist.all_reduce(t, "sum") end
wait_for_device()
dist.barrier()
local start = trainrt.clock()
for _ = 1, args.iters do dist.all_reduce(t, "sum") end
wait_for_device()
local seconds = (trainrt.clock() - start) / args.iters
local bytes = count * 4
if rank == 0 then
  print(string.format("allreduce backend=%s ranks=%d device=%s bytes=%d time_ms=%.3f algbw_gbps=%.2f busbw_gbps=%.2f",
    dist.default_backend(device), n, device, bytes, 1000 * seconds, bytes / seconds / 1e9,
    2 * (n - 1) / n * bytes / seconds / 1e9))
end
