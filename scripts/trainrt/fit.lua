-- trainrt.fit{...}: the Keras model.fit-like training loop over the explicit one
-- (zero_grad, forward, loss, backward, step), with progress, evaluation and
-- callbacks. Returns the history: history.loss[e], history.test_accuracy[e], ...
-- and history.epochs[e] (the logs table of epoch e). fit.evaluate is exported too.
-- It runs through the run's strategy (trainrt.strategy(), or args.strategy), so
-- the same fit{} call trains on one process or many: the strategy sets the
-- model up, shards the loaders and reduces the metrics. checkpoint = {dir=,
-- every_epochs=, every_steps=, keep_last=, resume=} (or --checkpoint-dir and
-- --resume) saves periodically and resumes exactly (trainrt.checkpoint).
local trainrt = require "trainrt"
local data = require "trainrt.data"
local Progress = require "trainrt.progress"

local fit = {}

-- loss: a module or function (output, target) -> scalar, or "cross_entropy" / "mse".
local function loss_function(loss)
  if loss == nil or loss == "cross_entropy" then
    return function(out, y) return trainrt.F.cross_entropy(out, y) end
  elseif loss == "mse" then
    return function(out, y) return trainrt.F.mse_loss(out, y) end
  elseif type(loss) == "function" or (type(loss) == "table" and getmetatable(loss) and getmetatable(loss).__call) then
    return function(out, y) return loss(out, y) end
  end
  error("trainrt.fit: loss must be a module, a function, \"cross_entropy\" or \"mse\"", 3)
end

local function free(t)
  if trainrt.is_tensor(t) then t:free() end
end

-- Mean loss and (for integer class targets) accuracy of model on loader, in eval
-- mode under no_grad; the model's train/eval mode is restored afterwards.
-- With a strategy, loader is this rank's shard and the sums cover every rank.
-- Returns {loss = L, accuracy = A or nil, samples = n}.
function fit.evaluate(model, loader, loss, strategy)
  strategy = strategy or trainrt.strategy()
  local loss_fn = loss_function(loss)
  local was_training = model.training
  model:eval()
  local loss_sum, correct, total, classified = 0, 0, 0, true
  trainrt.no_grad(function()
    for x, y in loader do
      x, y = strategy:to_device(x, y)
      local n = x:size(1)
      local out = model(x)
      loss_sum = loss_sum + loss_fn(out, y):item() * n
      -- out: (N, C) logits, y: (N) int64 class indices
      if classified and out:dim() == 2 and y:dim() == 1 and y:dtype() == "int64" then
        correct = correct + out:argmax(2):eq(y):float():sum():item()
      else
        classified = false
      end
      total = total + n
      free(out)
    end
  end)
  model:train(was_training)
  local sums = strategy:reduce({ loss_sum, correct, total, classified and 0 or 1 }, "sum")
  loss_sum, correct, total, classified = sums[1], sums[2], sums[3], sums[4] == 0
  if total == 0 then error("trainrt.fit.evaluate: the loader yielded no batches", 2) end
  return { loss = loss_sum / total, accuracy = classified and correct / total or nil, samples = total }
end

-- This rank's loader for a DataLoader (sharded by the strategy); any other
-- iterable is used as given.
local function prepare_loader(strategy, loader, options)
  if data.is_loader(loader) then return strategy:loader(loader, options) end
  return loader
end

-- args: model, loss (default cross entropy), optimizer, train (a loader), test
-- (optional loader), epochs (default 1), scheduler (stepped once per epoch),
-- strategy (default trainrt.strategy()), log_every (non-TTY line every N steps,
-- default 100), quiet, callbacks = {on_train_begin(), on_epoch_begin(epoch),
-- on_batch_end(step, logs), on_epoch_end(epoch, logs) -> false stops training,
-- on_train_end(history)}. Callbacks run on every rank; logs hold every rank's numbers.
-- checkpoint: settings of a Checkpointer (default: trainrt.config.checkpoint,
-- i.e. --checkpoint-dir / --resume); history holds the epochs this call ran.
-- compile (default true): the training step captured and replayed natively
-- (strategy:compile, docs/compile.md); false runs it op by op.
function fit.fit(args)
  if type(args) ~= "table" then error("trainrt.fit: expected a table {model=, optimizer=, train=, ...}", 2) end
  local model, optimizer, train = args.model, args.optimizer, args.train
  if model == nil then error("trainrt.fit: model is required", 2) end
  if optimizer == nil then error("trainrt.fit: optimizer is required", 2) end
  if train == nil then error("trainrt.fit: train (a data loader) is required", 2) end
  local loss_fn = loss_function(args.loss)
  local epochs = args.epochs or 1
  local strategy = args.strategy or trainrt.strategy()
  local callbacks = args.callbacks or {}
  model, optimizer = strategy:setup(model, optimizer)
  train = prepare_loader(strategy, train)
  local test = args.test and prepare_loader(strategy, args.test, { eval = true })
  local history = { epochs = {} }
  local checkpoints = strategy:checkpointer{ checkpoint = args.checkpoint, model = model, optimizer = optimizer,
                                             scheduler = args.scheduler, loader = train }

  -- The step, captured and replayed natively unless compile = false (strategy:compile).
  local function step(x, y)
    optimizer:zero_grad()
    local loss = loss_fn(model(x), y)
    strategy:backward(loss)
    strategy:step(optimizer)
    return loss
  end
  local train_step = args.compile == false and step or strategy:compile(step)

  if callbacks.on_train_begin then callbacks.on_train_begin() end
  local first_epoch = checkpoints:resume()
  for epoch = first_epoch, epochs do
    if callbacks.on_epoch_begin then callbacks.on_epoch_begin(epoch) end
    model:train()
    local total = nil
    if type(train) == "table" or type(train) == "userdata" then
      local ok, n = pcall(function() return #train end)
      if ok then total = n end
    end
    local bar = Progress.new{ total = total, epoch = epoch, epochs = epochs, every = args.log_every, quiet = args.quiet,
                              strategy = strategy }
    for x, y in train do
      x, y = strategy:to_device(x, y)
      local loss = train_step(x, y)
      local value = loss:item()
      if value ~= value then
        error(string.format("trainrt.fit: loss is NaN at epoch %d step %d", epoch, bar.steps + 1), 0)
      end
      bar:update(x:size(1), value)
      if callbacks.on_batch_end then callbacks.on_batch_end(bar.steps, { loss = value, epoch = epoch }) end
      free(loss); free(x); free(y)
      checkpoints:after_step()
    end
    if bar.steps == 0 and not (epoch == first_epoch and checkpoints.resumed_from) then  -- resumed at its very end
      error(string.format("trainrt.fit: epoch %d had no batches: the train loader yielded nothing", epoch), 0)
    end
    local logs = bar:logs()  -- samples/s of training alone, before the evaluation
    if test then
      local result = fit.evaluate(model, test, args.loss, strategy)
      logs.test_loss = result.loss
      logs.test_accuracy = result.accuracy
      trainrt.metrics.eval{ loss = result.loss, accuracy = result.accuracy }
    end
    if args.scheduler then
      logs.lr = optimizer.param_groups[1].lr
      args.scheduler:step()
    end
    bar:finish(logs)
    history.epochs[epoch] = logs
    for key, v in pairs(logs) do
      if type(v) == "number" then
        history[key] = history[key] or {}
        history[key][epoch] = v
      end
    end
    checkpoints:after_epoch(epoch)
    if callbacks.on_epoch_end and callbacks.on_epoch_end(epoch, logs) == false then break end
  end
  if callbacks.on_train_end then callbacks.on_train_end(history) end
  return history
end

-- trainrt.fit{...} calls fit.fit.
return setmetatable(fit, { __call = function(_, args) return fit.fit(args) end })
