-- An MLP on Fashion-MNIST built from the plugin's layers: LayerNorm and Swish
-- come from layer-examples (C++/CUDA), the rest is trainrt's own nn.
-- Run: TRAINRT_PLUGIN_PATH=<plugin build dir> trainrt train examples/custom-layer-plugin/train.lua --epochs 1
-- Flags as in examples/mnist/mlp.lua: --epochs, --batch-size, --lr, --limit N
-- (first N training samples; 0 = all), --test-limit N, --data DIR, --log-every N,
-- plus --beta (swish's attribute). It prints "final test_accuracy=A" last.
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local data = require "trainrt.data"

local args = trainrt.args{
  epochs = { 3, help = "passes over the training set", min = 1 },
  batch_size = { 64, help = "training batch size", min = 1 },
  lr = { 1e-3, help = "learning rate", positive = true },
  beta = { 1.0, help = "swish's beta: y = x * sigmoid(beta x)" },
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

-- Module classes made from the plugin's layer definitions: the constructor takes
-- the layer's attributes, and LayerNorm's parameters (gamma, beta) come from param().
local LayerNorm = nn.PluginLayer("layernorm")
local Swish = nn.PluginLayer("swish")

-- x: (N, 1, 28, 28) -> (N, 784) -> logits (N, 10)
local model = nn.Sequential{
  nn.Flatten(),
  nn.Linear(784, 256),             -- (N, 256)
  LayerNorm{ features = 256 },     -- (N, 256); its mean and rstd outputs stay inside
  Swish{ beta = args.beta },       -- (N, 256)
  nn.Linear(256, 10),
}
local strategy = trainrt.strategy()
strategy:print(model)

local history = trainrt.fit{
  model = model,
  loss = nn.CrossEntropyLoss(),
  optimizer = optim.Adam{ model:parameters(), lr = args.lr },
  train = data.DataLoader(train_set, { batch_size = args.batch_size, shuffle = true, normalize = normalize }),
  test = data.DataLoader(test_set, { batch_size = 1000, normalize = normalize }),
  epochs = args.epochs,
  log_every = args.log_every,
}
local last = history.test_accuracy and history.test_accuracy[args.epochs]
if last == nil then error("train.lua: no test accuracy was recorded", 0) end
strategy:print(string.format("final test_accuracy=%.4f", last))
