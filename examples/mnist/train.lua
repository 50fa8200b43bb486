-- The seed CNN on Fashion-MNIST with an explicit training loop, as a PyTorch
-- train.py would write it. Run: trainrt train examples/mnist/train.lua --epochs 3
-- On 2 processes: trainrt launch --nproc-per-node 2 examples/mnist/train.lua --strategy ddp
-- Flags: --epochs, --batch-size (per process), --lr, --limit N (first N training samples; 0 = all),
-- --test-limit N (same for the test set), --data DIR, --log-every N (plain-output step lines).
-- The loop talks to the run's strategy (--strategy single|ddp|a script), so it
-- runs unchanged on one process or many. --checkpoint-dir DIR saves a checkpoint
-- every epoch; --resume auto continues from the newest one there.
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local data = require "trainrt.data"
local Progress = require "trainrt.progress"

local args = trainrt.args{
  epochs = { 3, help = "passes over the training set", min = 1 },
  batch_size = { 64, help = "training batch size", min = 1 },
  lr = { 1e-3, help = "learning rate", positive = true },
  limit = { 0, help = "train on the first N samples (0 = all)", min = 0 },
  test_limit = { 0, help = "evaluate on the first N test samples (0 = all)", min = 0 },
  data = { "/usr/share/datasets/fashion-mnist", help = "folder with the Fashion-MNIST IDX files" },
  log_every = { 100, help = "without a terminal, a progress line every N steps", min = 1 },
}
local strategy = trainrt.strategy()
local normalize = { mean = 0.2860, std = 0.3530 }

local train_set = data.fashion_mnist{ root = args.data, split = "train" }
local test_set = data.fashion_mnist{ root = args.data, split = "test" }
if args.limit > 0 then train_set = data.subset(train_set, args.limit) end
if args.test_limit > 0 then test_set = data.subset(test_set, args.test_limit) end
local train_loader = strategy:loader(train_set, { batch_size = args.batch_size, shuffle = true, normalize = normalize })
local test_loader = strategy:loader(test_set, { batch_size = 1000, normalize = normalize, eval = true })

-- x: (N, 1, 28, 28) -> logits (N, 10); model.lua defines it, so that `trainrt serve` builds the same one
local model = require("model").build()
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam{ model:parameters(), lr = args.lr }
model, optimizer = strategy:setup(model, optimizer)

-- One evaluation batch: summed loss and number correct, as tensors, read by
-- the caller. Compiled too: under no_grad its plan keeps one arena for the
-- batch's activations instead of allocating each layer's output.
local eval_step = strategy:compile(function(x, y)
  local logits = model(x)  -- (N, 10)
  return criterion(logits, y) * x:size(1), logits:argmax(2):eq(y):float():sum()
end)

-- Test-set accuracy and mean loss over every rank's shard, in eval mode without building a graph.
local function evaluate()
  model:eval()
  local correct, loss_sum, total = 0, 0, 0
  trainrt.no_grad(function()
    for x, y in test_loader do
      x, y = strategy:to_device(x, y)
      local batch_loss, batch_correct = eval_step(x, y)
      loss_sum = loss_sum + batch_loss:item()
      correct = correct + batch_correct:item()
      total = total + x:size(1)
    end
  end)
  correct, loss_sum, total = table.unpack(strategy:reduce({ correct, loss_sum, total }, "sum"))
  return correct / total, loss_sum / total
end

strategy:print(model)
strategy:print(string.format("train samples=%d test samples=%d batches/epoch=%d parameters=%d device=%s strategy=%s",
  #train_set, #test_set, #train_loader, model:num_parameters(), strategy.device, tostring(strategy)))

-- Checkpoints (--checkpoint-dir, --resume): model, optimizer, data position and generators.
local checkpoints = strategy:checkpointer{ model = model, optimizer = optimizer, loader = train_loader }

-- One training step: captured on its first call and replayed natively after
-- that, fused and without Lua per op (strategy:compile; ddp and mirrored run it
-- eagerly). The last, smaller batch of an epoch is captured once more.
local train_step = strategy:compile(function(x, y)
  optimizer:zero_grad()
  local loss = criterion(model(x), y)
  strategy:backward(loss)
  strategy:step(optimizer)
  return loss
end)

for epoch = checkpoints:resume(), args.epochs do
  model:train()
  local bar = Progress.new{ total = #train_loader, epoch = epoch, epochs = args.epochs, every = args.log_every,
                            strategy = strategy }
  for x, y in train_loader do
    x, y = strategy:to_device(x, y)
    local loss = train_step(x, y)
    bar:update(x:size(1), loss:item())
    checkpoints:after_step()
  end
  local logs = bar:logs()  -- training loss and samples/s, before the evaluation
  logs.test_accuracy, logs.test_loss = evaluate()
  bar:finish(logs)
  checkpoints:after_epoch(epoch)
end
