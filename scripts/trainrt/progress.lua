-- trainrt.progress: per-epoch progress reporting for fit and explicit loops.
-- On a TTY a bar redrawn with \r (step/total, loss, samples/s, ETA); otherwise
-- one plain line every `every` steps. Every epoch ends with a key=value line
-- `epoch=E loss=L test_accuracy=A samples_per_s=S ...` that scripts and tests parse.
--   local bar = progress.new{total = #loader, epoch = e, epochs = n}
--   bar:update(batch_size, loss:item()) ... bar:finish{test_accuracy = acc}
local trainrt = require "trainrt"

local Progress = {}
Progress.__index = Progress

-- Wall-clock seconds; os.clock (CPU time, summed over threads) only if the
-- runtime offers no wall clock.
Progress.clock = function() return trainrt.clock() end

-- opts: total (steps per epoch), epoch, epochs, every (non-TTY line interval,
-- default 100), tty (default trainrt.is_tty), quiet (only epoch lines),
-- out (a file, default io.stdout), strategy (reduce the epoch's numbers over
-- its ranks; ranks other than the main one print nothing).
function Progress.new(opts)
  opts = opts or {}
  local self = setmetatable({}, Progress)
  self.total = opts.total
  self.epoch = opts.epoch or 1
  self.epochs = opts.epochs
  self.every = opts.every or 100
  if opts.tty == nil then self.tty = trainrt.is_tty == true else self.tty = opts.tty end
  if opts.quiet == nil then self.quiet = trainrt.quiet == true else self.quiet = opts.quiet end
  self.out = opts.out or io.stdout
  self.strategy = opts.strategy
  self.silent = self.strategy ~= nil and not self.strategy:is_main()
  self.steps, self.samples = 0, 0
  self.loss_sum, self.loss_samples = 0, 0
  self.start = Progress.clock()
  self.last_step = self.start
  self.last_draw = -math.huge
  return self
end

local function format_duration(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end
Progress.format_duration = format_duration

function Progress:elapsed()
  return Progress.clock() - self.start
end

-- Mean loss over the samples seen so far this epoch.
function Progress:mean_loss()
  if self.loss_samples == 0 then return 0 / 0 end
  return self.loss_sum / self.loss_samples
end

function Progress:samples_per_s()
  local t = self:elapsed()
  if t <= 0 then return 0 end
  return self.samples / t
end

function Progress:_epoch_label()
  if self.epochs then return string.format("epoch %d/%d", self.epoch, self.epochs) end
  return string.format("epoch %d", self.epoch)
end

function Progress:_step_label()
  if self.total then return string.format("%d/%d", self.steps, self.total) end
  return tostring(self.steps)
end

function Progress:_eta()
  if not self.total or self.steps == 0 then return 0 / 0 end
  return self:elapsed() / self.steps * (self.total - self.steps)
end

-- Records one step of n samples with the step's (mean) loss, and redraws.
-- Every rank also feeds trainrt.metrics (step time, samples, loss, epoch;
-- docs/monitoring.md), whether or not --metrics-port serves them.
function Progress:update(n, loss)
  self.steps = self.steps + 1
  self.samples = self.samples + n
  if loss ~= nil then
    self.loss_sum = self.loss_sum + loss * n
    self.loss_samples = self.loss_samples + n
  end
  local now = Progress.clock()
  trainrt.metrics.step{ samples = n, seconds = now - self.last_step, loss = loss, epoch = self.epoch,
                        step = self.steps, samples_per_s = self:samples_per_s() }
  self.last_step = now
  if self.quiet or self.silent then return end
  if self.tty then
    local now = Progress.clock()
    if now - self.last_draw >= 0.1 or self.steps == self.total then
      self.last_draw = now
      self:_draw()
    end
  elseif self.every > 0 and self.steps % self.every == 0 and self.steps ~= self.total then
    self.out:write(string.format("%s step %s loss=%.4f samples_per_s=%.1f eta=%s\n", self:_epoch_label(),
      self:_step_label(), self:mean_loss(), self:samples_per_s(), format_duration(self:_eta())))
    self.out:flush()
  end
end

function Progress:_draw()
  local width = 30
  local bar
  if self.total and self.total > 0 then
    local filled = math.min(width, math.floor(width * self.steps / self.total))
    bar = string.rep("=", filled) .. (filled < width and ">" or "") .. string.rep(".", math.max(0, width - filled - 1))
    bar = "[" .. bar .. "] "
  else
    bar = ""
  end
  self.out:write(string.format("\r%s %s%s loss %.4f  %.0f samples/s  ETA %s\27[K", self:_epoch_label(), bar,
    self:_step_label(), self:mean_loss(), self:samples_per_s(), format_duration(self:_eta())))
  self.out:flush()
end

-- The epoch line: the four standard keys first, then the others sorted.
local FIRST = { "epoch", "loss", "test_accuracy", "samples_per_s" }
local function format_value(key, v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) ~= "number" then return tostring(v) end
  if key == "samples_per_s" then return string.format("%.1f", v) end
  if key == "lr" then return string.format("%g", v) end
  if key:find("time") or key:find("_s$") then return string.format("%.2f", v) end
  return string.format("%.4f", v)
end

function Progress.format_logs(logs)
  local parts, used = {}, {}
  for _, key in ipairs(FIRST) do
    if logs[key] ~= nil then
      parts[#parts + 1] = key .. "=" .. format_value(key, logs[key])
      used[key] = true
    end
  end
  local rest = {}
  for key, v in pairs(logs) do
    if not used[key] and type(key) == "string" and type(v) ~= "table" and type(v) ~= "function" then
      rest[#rest + 1] = key
    end
  end
  table.sort(rest)
  for _, key in ipairs(rest) do parts[#parts + 1] = key .. "=" .. format_value(key, logs[key]) end
  return table.concat(parts, " ")
end

-- loss, samples/s and time of the epoch: this process's, or over every rank of
-- the strategy (summed samples and losses, the slowest rank's time).
function Progress:_epoch_numbers()
  local elapsed = self:elapsed()
  if not self.strategy or self.strategy.world_size == 1 then
    return self:mean_loss(), self:samples_per_s(), elapsed
  end
  local sums = self.strategy:reduce({ self.loss_sum, self.loss_samples, self.samples }, "sum")
  elapsed = self.strategy:reduce(elapsed, "max")
  local loss = sums[2] > 0 and sums[1] / sums[2] or 0 / 0
  return loss, elapsed > 0 and sums[3] / elapsed or 0, elapsed
end

-- The epoch's own numbers (epoch, loss, samples_per_s, time_s) merged into extra.
function Progress:logs(extra)
  local logs = {}
  for k, v in pairs(extra or {}) do logs[k] = v end
  if logs.epoch == nil then logs.epoch = self.epoch end
  if logs.loss == nil or logs.samples_per_s == nil or logs.time_s == nil then
    local loss, rate, elapsed = self:_epoch_numbers()
    if logs.loss == nil then logs.loss = loss end
    if logs.samples_per_s == nil then logs.samples_per_s = rate end
    if logs.time_s == nil then logs.time_s = elapsed end
  end
  return logs
end

-- Ends the bar and prints the epoch line; returns the logs it printed.
-- Call it right after the training steps if samples/s should exclude the
-- evaluation, passing the evaluation's numbers later through `extra`:
--   local logs = bar:logs(); ...evaluate...; logs.test_accuracy = acc; bar:finish(logs)
function Progress:finish(extra)
  local logs = self:logs(extra)
  if self.silent then return logs end
  if self.tty and not self.quiet and self.steps > 0 then self.out:write("\n") end
  self.out:write(Progress.format_logs(logs), "\n")
  self.out:flush()
  return logs
end

return Progress
