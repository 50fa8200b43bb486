-- A 784-256-256-10 MLP on Fashion-MNIST, trained with trainrt.fit.
-- Run: trainrt train examples/mnist/mlp.lua --epochs 3 --optimizer sgd --lr 0.05
-- Checkpoints: --checkpoint-dir DIR (one per epoch), --resume auto (trainrt.fit handles both).
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local data = require "trainrt.data"

local args = trainrt.args{
  epochs = { 3, help = "passes over the training set", min = 1 },
  batch_size = { 64, help = "training batch size", min = 1 },
  lr = { 1e-3, help = "learning rate", positive = true },
  optimizer = { "adam", help = "adam, or sgd (momentum 0.9)", choices = { "adam", "sgd" } },
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

-- x: (N, 1, 28, 28) -> (N, 784) -> logits (N, 10)
local model = nn.Sequential{
  nn.Flatten(),
  nn.Linear(784, 256), nn.ReLU(),
  nn.Linear(256, 256), nn.ReLU(),
  nn.Linear(256, 10),
}
trainrt.strategy():print(model)

local optimizer
if args.optimizer == "adam" then
  optimizer = optim.Adam{ model:parameters(), lr = args.lr }
elseif args.optimizer == "sgd" then
  optimizer = optim.SGD{ model:parameters(), lr = args.lr, momentum = 0.9 }
else
  error("--optimizer must be adam or sgd, got " .. tostring(args.optimizer), 0)
end

trainrt.fit{
  model = model,
  loss = nn.CrossEntropyLoss(),
  optimizer = optimizer,
  train = data.DataLoader(train_set, { batch_size = args.batch_size, shuffle = true, normalize = normalize }),
  test = data.DataLoader(test_set, { batch_size = 1000, normalize = normalize }),
  epochs = args.epochs,
  log_every = args.log_every,
}
