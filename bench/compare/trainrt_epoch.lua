-- trainrt's half of bench/compare_pytorch.sh: one shuffled training epoch of
-- the seed CNN or the 784-256-256-10 MLP on Fashion-MNIST (batch 64, Adam 1e-3,
-- normalised (x/255 - 0.2860)/0.3530, no evaluation), timed from the start of
-- the epoch loop to the end of its last step (data loading included, process
-- start-up excluded). Like examples/mnist/train.lua, every step reads its loss
-- (the running mean is printed), which also bounds how far the script runs
-- ahead of the asynchronous kernels. torch_epoch.py is the same epoch in PyTorch.
-- Run: trainrt train bench/compare/trainrt_epoch.lua --model cnn --threads 1 [--limit N] [--mode eager]
-- Prints: epoch side=trainrt model=... threads=... samples=... seconds=... sps=... loss=... rss_mb=...
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local data = require "trainrt.data"

local args = trainrt.args{
  model = { "cnn", help = "which model", choices = { "cnn", "mlp" } },
  limit = { 0, help = "train on the first N samples (0 = the whole epoch)", min = 0 },
  batch_size = { 64, help = "batch size", min = 1 },
  lr = { 1e-3, help = "Adam learning rate", positive = true },
  data = { data.FASHION_MNIST_ROOT, help = "folder with the Fashion-MNIST IDX files" },
  mode = { "compiled", help = "the step trainrt.compile'd, or eager (op by op)", choices = { "compiled", "eager" } },
}

local builders = {
  cnn = function()
    return nn.Sequential{
      nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
      nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    }
  end,
  mlp = function()
    return nn.Sequential{
      nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10),
    }
  end,
}

local train_set = data.fashion_mnist{ root = args.data, split = "train" }
if args.limit > 0 then train_set = data.subset(train_set, args.limit) end
local loader = data.DataLoader(train_set, { batch_size = args.batch_size, shuffle = true,
                                            normalize = { mean = 0.2860, std = 0.3530 } })
local model = builders[args.model]()
model:train()
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam{ model:parameters(), lr = args.lr }

local samples, loss_sum = 0, 0
trainrt.synchronize()
local start = trainrt.clock()
local function step(x, y)
  optimizer:zero_grad()
  local loss = criterion(model(x), y)
  loss:backward()
  optimizer:step()
  return loss
end
if args.mode == "compiled" then step = trainrt.compile(step) end
for x, y in loader do
  local loss = step(x, y)
  loss_sum = loss_sum + loss:item() * x:size(1)  -- waits for this step's loss
  samples = samples + x:size(1)
end
trainrt.synchronize()  -- and for the last optimizer step
local seconds = trainrt.clock() - start

print(string.format("epoch side=trainrt model=%s threads=%d samples=%d seconds=%.3f sps=%.1f mean_loss=%.4f rss_mb=%.1f",
  args.model, trainrt.threads(), samples, seconds, samples / seconds, loss_sum / samples,
  trainrt.process().peak_rss_bytes / 2 ^ 20))
