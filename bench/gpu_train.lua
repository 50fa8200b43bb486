-- Training throughput on the run's device (--device cuda:0), for bench/gpu.sh:
-- the seed CNN (examples/mnist) or bench/resnet_small.lua on synthetic inputs
-- with Adam, as samples/s and ms/step after --warmup untimed steps, and the
-- device's memory peak. Every step reads its loss (a host wait, as a training
-- loop's logging does), so the queue cannot run ahead of the clock.
-- Not `trainrt bench`: that one measures the CPU against its sgemm rate.
-- Run: trainrt train bench/gpu_train.lua --device cuda:0 --model resnet_small --batch-size 256
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"

local args = trainrt.args{
  model = { "cnn", help = "cnn (the seed CNN, 1x28x28) or resnet_small (bench/resnet_small.lua, 3x32x32)",
            choices = { "cnn", "resnet_small" } },
  batch_size = { 256, help = "batch size", min = 1 },
  steps = { 50, help = "timed training steps", min = 1 },
  warmup = { 5, help = "untimed steps before timing (allocator, library handles, autotuning)", min = 0 },
  resnet_file = { "bench/resnet_small.lua", help = "the ResNet model script (a path from the current directory)" },
}

local function build()
  if args.model == "resnet_small" then return dofile(args.resnet_file){ classes = 10 } end
  return nn.Sequential{
    nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
  }, { 1, 28, 28 }
end

local strategy = trainrt.strategy()
local model, sample_shape = build()
local optimizer = optim.Adam{ model:parameters(), lr = 1e-3 }
model, optimizer = strategy:setup(model, optimizer)
local criterion = nn.CrossEntropyLoss()
local x = trainrt.randn({ args.batch_size, table.unpack(sample_shape) })  -- x: (B, C, H, W)
local y = (trainrt.rand({ args.batch_size }) * 10):long()               -- y: (B) in [0, 10)
x, y = strategy:to_device(x, y)

local function step()
  optimizer:zero_grad()
  local loss = criterion(model(x), y)
  strategy:backward(loss)
  strategy:step(optimizer)
  return loss:item()
end

local first_loss = step()
for _ = 2, args.warmup do step() end
trainrt.synchronize()
local start = trainrt.clock()
local last_loss
for _ = 1, args.steps do last_loss = step() end
trainrt.synchronize()
local elapsed = trainrt.clock() - start

local memory = trainrt.memory(strategy.device)
print(string.format(
  "gpu_bench model=%s device=%s batch=%d steps=%d parameters=%d samples_per_s=%.0f step_ms=%.2f " ..
  "device_peak_mb=%.1f loss_first=%.4f loss_last=%.4f",
  args.model, strategy.device, args.batch_size, args.steps, model:num_parameters(),
  args.batch_size * args.steps / elapsed, 1000 * elapsed / args.steps, memory.peak_bytes / 2 ^ 20,
  first_loss, last_loss))
