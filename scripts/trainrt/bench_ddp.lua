-- `trainrt bench ddp`: data-parallel scaling of the seed CNN. Runs, in one
-- invocation and interleaved (so machine noise hits both alike):
--   single: one process x --threads threads, batch --batch-size;
--   ddp:    `trainrt launch --nproc-per-node N` x --threads threads, batch
--           --batch-size per process (global batch N times larger);
--   apart:  N single processes at once, not talking to each other: what this
--           machine gives N processes when nothing is synchronised (shared
--           cores, caches and memory bandwidth), the ceiling of any ddp;
-- and prints samples/s of each, the ddp/single ratio (target: >= 0.9 N, i.e.
-- gradient synchronisation costs <= 10%), ddp against the ceiling, and the
-- share of a ddp step spent waiting after backward has finished (the
-- all-reduce overlap did not hide, plus waiting for the slowest rank).
-- Synthetic inputs: the figures measure compute and communication, not I/O.
-- With --worker the script is one measuring process (started by the driver).
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"

local args = trainrt.args{
  nproc = { 2, help = "ddp processes" },
  threads = { 1, help = "threads per process (single and ddp alike)" },
  steps = { 40, help = "timed training steps per measurement" },
  warmup = { 5, help = "untimed steps before timing" },
  batch_size = { 64, help = "batch size per process" },
  pairs = { 3, help = "measurement rounds (single, ddp, apart); the median ratios are reported" },
  worker = { false, help = "(internal) measure in this process and print one BENCH line" },
}

local function seed_cnn()
  return nn.Sequential{
    nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
  }
end

if args.worker then
  local strategy = trainrt.strategy()
  local model = seed_cnn()
  local optimizer = optim.Adam{ model:parameters(), lr = 1e-3 }
  model, optimizer = strategy:setup(model, optimizer)
  local criterion = nn.CrossEntropyLoss()
  local x = trainrt.randn({ args.batch_size, 1, 28, 28 })       -- x: (B, 1, 28, 28)
  local y = (trainrt.rand({ args.batch_size }) * 10):long()     -- y: (B)
  local function step()
    optimizer:zero_grad()
    local loss = criterion(model(x), y)
    strategy:backward(loss)
    strategy:step(optimizer)
    return loss
  end
  for _ = 1, args.warmup do step() end
  strategy:barrier()
  local wait_before = strategy:stats().wait_s or 0
  local start = trainrt.clock()
  for _ = 1, args.steps do step() end
  step():item()
  local elapsed = strategy:reduce(trainrt.clock() - start, "max")
  local waited = strategy:reduce((strategy:stats().wait_s or 0) - wait_before, "mean")
  strategy:print(string.format("BENCH samples_per_s=%.1f step_ms=%.2f wait_share=%.4f world=%d",
    strategy.world_size * args.batch_size * (args.steps + 1) / elapsed, 1000 * elapsed / (args.steps + 1),
    waited / elapsed, strategy.world_size))
  return
end

-- The driver: runs the workers as separate processes, interleaved.
local exe, script = trainrt.executable, trainrt.script
local common = string.format("--worker --threads %d --steps %d --warmup %d --batch-size %d", args.threads,
  args.steps, args.warmup, args.batch_size)

local function parse(command, pipe)
  local output = pipe:read("a")
  local ok = pipe:close()
  local rate, step_ms, wait = output:match("BENCH samples_per_s=([%d.]+) step_ms=([%d.]+) wait_share=([%d.]+)")
  if not ok or not rate then trainrt.exit(1, "bench ddp: a measurement failed:\n" .. command .. "\n" .. output) end
  return { rate = tonumber(rate), step_ms = tonumber(step_ms), wait = tonumber(wait) }
end

local function measure(command)
  return parse(command, io.popen(command .. " 2>&1"))
end

-- N copies of command at once (popen starts each before any is read); their summed rate.
local function measure_apart(command, n)
  local pipes = {}
  for i = 1, n do pipes[i] = io.popen(command .. " 2>&1") end
  local total = 0
  for i = 1, n do total = total + parse(command, pipes[i]).rate end
  return { rate = total }
end

local single_cmd = string.format("'%s' train '%s' %s --strategy single", exe, script, common)
local ddp_cmd = string.format("'%s' launch --nproc-per-node %d --master-port 0 '%s' %s --strategy ddp", exe,
  args.nproc, script, common)

print(string.format("ddp bench: seed CNN, batch %d per process, %d thread(s) per process, %d timed steps, %d rounds",
  args.batch_size, args.threads, args.steps, args.pairs))
local function median(list)
  table.sort(list)
  return list[(#list + 1) // 2]
end

local ratios, of_ceiling = {}, {}
for pair = 1, args.pairs do
  local single, ddp, apart
  if pair % 2 == 1 then
    single, ddp, apart = measure(single_cmd), measure(ddp_cmd), measure_apart(single_cmd, args.nproc)
  else
    apart, ddp, single = measure_apart(single_cmd, args.nproc), measure(ddp_cmd), measure(single_cmd)
  end
  ratios[#ratios + 1] = ddp.rate / single.rate
  of_ceiling[#of_ceiling + 1] = ddp.rate / apart.rate
  print(string.format("round %d: single samples_per_s=%.0f step_ms=%.1f | ddp x%d samples_per_s=%.0f step_ms=%.1f " ..
    "wait_after_backward=%.1f%% | %d apart samples_per_s=%.0f | ddp/single=%.2f ddp/apart=%.2f", pair, single.rate,
    single.step_ms, args.nproc, ddp.rate, ddp.step_ms, 100 * ddp.wait, args.nproc, apart.rate, ratios[#ratios],
    of_ceiling[#of_ceiling]))
end
print(string.format("median ddp/single samples/s ratio=%.2f with %d processes (target >= %.2f: sync costs <= 10%%)",
  median(ratios), args.nproc, 0.9 * args.nproc))
print(string.format("median ddp/apart ratio=%.2f (1.00 = synchronisation costs nothing beyond sharing the machine)",
  median(of_ceiling)))
