-- The Keras-style CNN on Fashion-MNIST trained with trainrt.fit (model.fit):
-- Conv2D(32)-MaxPool-Conv2D(64)-MaxPool-Flatten-Dense(128, relu)-Dense(10).
-- Run: trainrt train examples/mnist/fit.lua --epochs 3   (same flags as train.lua)
-- Checkpoints: --checkpoint-dir DIR (one per epoch), --resume auto (trainrt.fit handles both).
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local data = require "trainrt.data"

local args = trainrt.args{
  epochs = { 3, help = "passes over the training set", min = 1 },
  batch_size = { 64, help = "training batch size", min = 1 },
  lr = { 1e-3, help = "learning rate", positive = true },
  limit = { 0, help = "train on the first N samples (0 = all)", min = 0 },
  test_limit = { 0, help = "evaluate on the first N test samples (0 = all)", min = 0 },
  data = { "/usr/share/datasets/fashion-mnist", help = "folder with the Fashion-MNIST IDX files" },
  log_every = { 100, help = "without a terminal, a progress line every N steps", min = 1 },
}
local normalize = { mean = 0.2860, std = 0.3530 }

local train_set = data.fashion_mnist{ root = args.data, split = "train" }
local test_set = data.fashion_mnist{ root = args.data, split = "test" }
if args.limit > 0 then train_set = data.subset(train_set, args.limit) end
if args.test_limit > 0 then test_set = data.subset(test_set, args.test_limit) end

-- Keras' Conv2D(filters, kernel, activation) and Dense(units, activation), as
-- Sequential blocks. Keras' Conv2D pads "valid" by default: 28 -> 26 -> 13 -> 11 -> 5.
local function Conv2D(in_channels, filters, kernel)
  return nn.Sequential{ nn.Conv2d(in_channels, filters, kernel), nn.ReLU() }
end
local function Dense(in_features, units, activation)
  local block = nn.Sequential{ nn.Linear(in_features, units) }
  if activation == "relu" then block:add(nn.ReLU()) end
  return block
end

-- x: (N, 1, 28, 28) -> logits (N, 10)
local model = nn.Sequential()
  :add(Conv2D(1, 32, 3)):add(nn.MaxPool2d(2))    -- (N, 32, 13, 13)
  :add(Conv2D(32, 64, 3)):add(nn.MaxPool2d(2))   -- (N, 64, 5, 5)
  :add(nn.Flatten())                             -- (N, 1600)
  :add(Dense(64 * 5 * 5, 128, "relu"))
  :add(Dense(128, 10))
trainrt.strategy():print(model)

local history = trainrt.fit{
  model = model,
  loss = nn.CrossEntropyLoss(),
  optimizer = optim.Adam{ model:parameters(), lr = args.lr },
  train = data.DataLoader(train_set, { batch_size = args.batch_size, shuffle = true, normalize = normalize }),
  test = data.DataLoader(test_set, { batch_size = 1000, normalize = normalize }),
  epochs = args.epochs,
  log_every = args.log_every,
  callbacks = {
    on_epoch_end = function(epoch, logs)
      if logs.test_accuracy and logs.test_accuracy >= 0.999 then return false end  -- nothing left to learn
    end,
  },
}
local best = nil  -- over the epochs this run trained (a resumed run skips the earlier ones)
for _, accuracy in pairs(history.test_accuracy or {}) do best = math.max(best or accuracy, accuracy) end
if best then trainrt.strategy():print(string.format("best test_accuracy=%.4f", best)) end
