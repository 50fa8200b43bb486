-- `trainrt bench async` and `trainrt bench mirrored`: what the device queues
-- (trainrt/stream.h) buy, in one invocation with the two sides interleaved
-- (machine noise hits both alike), median of --pairs rounds:
--   async:    one device, kernels queued (default) against run at launch
--             (TRAINRT_SYNC=1), for an MLP (784-256-256-10: many small ops, where
--             Lua's per-op cost shows) and the seed CNN;
--   mirrored: the seed CNN under `--strategy mirrored --devices cpu:0,cpu:1`
--             (1 thread per device, global batch 2B) against `single` on one
--             device with 1 thread (batch B). Target: >= 1.7x the samples/s.
-- Synthetic inputs; every step reads its loss (a host wait, as a training loop's
-- logging does), so queues cannot run ahead across steps.
-- With --worker the script is one measuring process (started by the driver).
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"

local args = trainrt.args{
  what = { "async", help = "async or mirrored", choices = { "async", "mirrored" } },
  model = { "cnn", help = "(worker) mlp or cnn", choices = { "mlp", "cnn" } },
  steps = { 40, help = "timed training steps per measurement", min = 1 },
  warmup = { 5, help = "untimed steps before timing", min = 0 },
  batch_size = { 64, help = "batch size per device", min = 1 },
  pairs = { 3, help = "measurement rounds; the median ratio is reported", min = 1 },
  worker = { false, help = "(internal) measure in this process and print one BENCH line" },
}

local function build(kind)
  if kind == "mlp" then
    return nn.Sequential{ nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
      nn.Linear(256, 10) }
  end
  return nn.Sequential{
    nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

if args.worker then
  local strategy = trainrt.strategy()
  local replicas = strategy.num_replicas or 1
  local batch = args.batch_size * replicas                         -- the global batch
  local model = build(args.model)
  local optimizer = optim.Adam{ model:parameters(), lr = 1e-3 }
  model, optimizer = strategy:setup(model, optimizer)
  local criterion = nn.CrossEntropyLoss()
  local x = trainrt.randn({ batch, 1, 28, 28 })                   -- x: (B, 1, 28, 28)
  local y = (trainrt.rand({ batch }) * 10):long()                 -- y: (B)
  local function step()
    optimizer:zero_grad()
    local loss = criterion(model(x), y)
    strategy:backward(loss)
    strategy:step(optimizer)
    return loss:item()
  end
  for _ = 1, args.warmup do step() end
  local start = trainrt.clock()
  for _ = 1, args.steps do step() end
  local elapsed = trainrt.clock() - start
  print(string.format("BENCH samples_per_s=%.1f step_ms=%.2f", batch * args.steps / elapsed, 1000 * elapsed / args.steps))
  return
end

-- The driver: each measurement is its own process.
local exe, script = trainrt.executable, trainrt.script
local common = string.format("--worker --steps %d --warmup %d --batch-size %d", args.steps, args.warmup, args.batch_size)

local function measure(command)
  local pipe = io.popen(command .. " 2>&1")
  local output = pipe:read("a")
  local ok = pipe:close()
  local rate, step_ms = output:match("BENCH samples_per_s=([%d.]+) step_ms=([%d.]+)")
  if not ok or not rate then trainrt.exit(1, "bench: a measurement failed:\n" .. command .. "\n" .. output) end
  return { rate = tonumber(rate), step_ms = tonumber(step_ms) }
end

local function median(list)
  table.sort(list)
  return list[(#list + 1) // 2]
end

-- Interleaves a and b (order alternating per round); prints each round and the median b/a ratio.
local function compare(label, name_a, cmd_a, name_b, cmd_b)
  local ratios = {}
  for round = 1, args.pairs do
    local a, b
    if round % 2 == 1 then a, b = measure(cmd_a), measure(cmd_b) else b, a = measure(cmd_b), measure(cmd_a) end
    ratios[#ratios + 1] = b.rate / a.rate
    print(string.format("%s round %d: %s samples_per_s=%.0f step_ms=%.2f | %s samples_per_s=%.0f step_ms=%.2f | %s/%s=%.2f",
      label, round, name_a, a.rate, a.step_ms, name_b, b.rate, b.step_ms, name_b, name_a, ratios[#ratios]))
  end
  return median(ratios)
end

if args.what == "async" then
  print(string.format("async bench: one device, 1 thread, batch %d, %d timed steps, %d rounds", args.batch_size,
    args.steps, args.pairs))
  for _, kind in ipairs({ "mlp", "cnn" }) do
    local base = string.format("'%s' train '%s' %s --model %s --threads 1 --strategy single", exe, script, common, kind)
    local ratio = compare(kind, "sync", "TRAINRT_SYNC=1 " .. base, "async", "TRAINRT_SYNC=0 " .. base)
    print(string.format("median async/sync samples/s ratio (%s) = %.2f", kind, ratio))
  end
else
  print(string.format("mirrored bench: seed CNN, batch %d per device, 1 thread per device, %d timed steps, %d rounds",
    args.batch_size, args.steps, args.pairs))
  local single = string.format("'%s' train '%s' %s --model cnn --threads 1 --strategy single", exe, script, common)
  local mirrored = string.format("'%s' train '%s' %s --model cnn --threads 2 --strategy mirrored --devices cpu:0,cpu:1",
    exe, script, common)
  local ratio = compare("cnn", "single", single, "mirrored", mirrored)
  print(string.format("median mirrored/single samples/s ratio = %.2f with 2 devices (target >= 1.70)", ratio))
end
