-- `trainrt bench`: training-step throughput of the seed CNN and the MLP at
-- several thread counts, as samples/s and achieved GFLOP/s next to this
-- machine's own sgemm rate measured in the same run; plus startup-to-first-step
-- time and peak RSS. Synthetic inputs, so the figures measure compute, not I/O.
-- The step is trainrt.compile'd unless --modes says eager (or both).
local script_start_s = trainrt.process().uptime_s  -- exec, plugins, Lua state: before any model work
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"

local args = trainrt.args{
  threads_list = { "1,2", help = "comma-separated thread counts to measure" },
  steps = { 20, help = "timed training steps per measurement" },
  warmup = { 3, help = "untimed steps before timing" },
  batch_size = { 64, help = "batch size" },
  models = { "cnn,mlp", help = "which models: cnn, mlp" },
  gemm_size = { 1024, help = "n of the n x n x n sgemm that measures the machine" },
  modes = { "compiled", help = "comma-separated: compiled (trainrt.compile), eager (op by op)" },
}

local function split_list(text)
  local out = {}
  for item in tostring(text):gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

-- The seed CNN and the 784-256-256-10 MLP, as in examples/mnist.
local builders = {
  cnn = function()
    return nn.Sequential{
      nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    }, { 1, 28, 28 }
  end,
  mlp = function()
    return nn.Sequential{
      nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10),
    }, { 1, 28, 28 }
  end,
}

-- Forward multiply-adds of one batch, layer by layer (Conv2d and Linear only).
local function forward_macs(model, x)
  local macs = 0
  trainrt.no_grad(function()
    for i = 1, model:size() do
      local layer = model[i]
      local y = layer(x)
      if layer.__name == "Conv2d" then
        local w = layer.weight  -- (O, C/groups, kH, kW)
        macs = macs + y:numel() * w:size(2) * w:size(3) * w:size(4)
      elseif layer.__name == "Linear" then
        macs = macs + y:numel() * layer.weight:size(2)
      end
      x = y
    end
  end)
  return macs
end

local function make_step(model, batch_size, sample_shape, compiled)
  local optimizer = optim.Adam{ model:parameters(), lr = 1e-3 }
  local criterion = nn.CrossEntropyLoss()
  local shape = { batch_size, table.unpack(sample_shape) }
  local x = trainrt.randn(shape)                                       -- x: (B, 1, 28, 28)
  local y = (trainrt.rand({ batch_size }) * 10):long()                 -- y: (B) in [0, 10)
  local function step(xb, yb)
    optimizer:zero_grad()
    local loss = criterion(model(xb), yb)
    loss:backward()
    optimizer:step()
    return loss
  end
  local run = compiled and trainrt.compile(step) or step
  return function() return run(x, y) end, x
end

local function time_steps(step, n)
  trainrt.synchronize()
  local start = trainrt.clock()
  for _ = 1, n do step() end
  trainrt.synchronize()
  return trainrt.clock() - start
end

-- sgemm rate: n x n x n float32 matmul, best of 8 timings (the machine's peak, so
-- pct_of_sgemm errs low rather than high on a noisy machine).
local function sgemm_gflops(n)
  local a, b = trainrt.randn({ n, n }), trainrt.randn({ n, n })
  a:matmul(b)  -- warm-up (thread pool start, caches)
  trainrt.synchronize()
  local best = math.huge
  for _ = 1, 8 do
    local start = trainrt.clock()
    a:matmul(b)
    trainrt.synchronize()
    best = math.min(best, trainrt.clock() - start)
  end
  return 2 * n * n * n / best / 1e9
end

-- The same n steps again in windows of up to 5, each followed by the faster
-- of two sgemms of `gemm_n`: per window, its GFLOP/s against that sgemm's. On
-- a shared machine the speed of the whole machine drifts during a run
-- (another tenant's load); a window and the sgemm next to it see the same
-- machine. Returns the median window ratio.
local function paired_pct_of_sgemm(step, n, flops_per_step, gemm_n)
  local a, b = trainrt.randn({ gemm_n, gemm_n }), trainrt.randn({ gemm_n, gemm_n })
  local ratios, done = {}, 0
  while done < n do
    local k = math.min(5, n - done)
    local seconds = time_steps(step, k)
    local gemm_seconds = math.huge
    for _ = 1, 2 do  -- the first runs on caches the steps filled; the faster of two, as the best-of-8 above
      local start = trainrt.clock()
      a:matmul(b)
      trainrt.synchronize()
      gemm_seconds = math.min(gemm_seconds, trainrt.clock() - start)
    end
    ratios[#ratios + 1] = (flops_per_step * k / seconds) / (2 * gemm_n ^ 3 / gemm_seconds)
    done = done + k
  end
  table.sort(ratios)
  local m = #ratios
  return m % 2 == 1 and ratios[(m + 1) // 2] or (ratios[m // 2] + ratios[m // 2 + 1]) / 2
end

-- Startup: process start -> end of the first training step of the first model.
local models = split_list(args.models)
for _, name in ipairs(models) do
  if not builders[name] then trainrt.exit(2, "bench: unknown model '" .. name .. "' (known: cnn, mlp)") end
end
do
  local model, sample_shape = builders[models[1]]()
  local step = make_step(model, args.batch_size, sample_shape, true)
  step():item()
  print(string.format("startup_s=%.3f startup_to_first_step_s=%.3f model=%s (process start to script start, and to the end of the first training step; /proc resolution 10 ms)",
    script_start_s, trainrt.process().uptime_s, models[1]))
end

local threads_list = split_list(args.threads_list)
for _, threads_text in ipairs(threads_list) do
  local threads = math.tointeger(tonumber(threads_text))
  if not threads or threads < 1 then trainrt.exit(2, "bench: bad thread count '" .. threads_text .. "'") end
  trainrt.set_threads(threads)
  local peak = sgemm_gflops(args.gemm_size)
  print(string.format("sgemm threads=%d n=%d gflops=%.1f", threads, args.gemm_size, peak))
  for _, name in ipairs(models) do
    for _, mode in ipairs(split_list(args.modes)) do
      if mode ~= "compiled" and mode ~= "eager" then trainrt.exit(2, "bench: unknown mode '" .. mode .. "' (known: compiled, eager)") end
      trainrt.manual_seed(0)
      local model, sample_shape = builders[name]()
      local step, x = make_step(model, args.batch_size, sample_shape, mode == "compiled")
      local flops_per_step = 3 * 2 * forward_macs(model, x)  -- training = 3x forward, 2 FLOPs per multiply-add
      time_steps(step, args.warmup)
      local seconds = time_steps(step, args.steps)
      local gflops = flops_per_step * args.steps / seconds / 1e9
      -- Paired at 1 thread only: with 2, libgomp's threads (oneDNN) still spin
      -- after the step's convolutions and halve the adjacent sgemm's rate.
      local paired = ""
      if threads == 1 then
        paired = string.format(" pct_of_sgemm_paired=%.0f",
          100 * paired_pct_of_sgemm(step, args.steps, flops_per_step, args.gemm_size))
      end
      print(string.format(
        "bench model=%s mode=%s threads=%d batch=%d steps=%d samples_per_s=%.0f step_ms=%.2f gflops=%.1f sgemm_gflops=%.1f pct_of_sgemm=%.0f%s",
        name, mode, threads, args.batch_size, args.steps, args.batch_size * args.steps / seconds,
        1000 * seconds / args.steps, gflops, peak, 100 * gflops / peak, paired))
    end
  end
end
print(string.format("peak_rss_mb=%.1f", trainrt.process().peak_rss_bytes / 2 ^ 20))
