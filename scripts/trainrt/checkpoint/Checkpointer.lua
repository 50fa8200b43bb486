-- Checkpointer: periodic checkpoints of a training loop in a directory, and
-- resuming from the newest (or a given) one, through the run's strategy (ddp:
-- rank 0 writes, every rank reads). Settings come from the call, else from
-- trainrt.config.checkpoint (--checkpoint-dir, --resume, --set checkpoint.KEY=V):
--   dir, every_epochs (1 when dir is set and neither is), every_steps, keep_last, resume ("auto" | PATH)
--   local ck = strategy:checkpointer{model = model, optimizer = opt, loader = train_loader}
--   for epoch = ck:resume(), epochs do
--     for x, y in train_loader do ... ; ck:after_step() end
--     ck:after_epoch(epoch)
--   end
local trainrt = require "trainrt"

local Checkpointer = {}
Checkpointer.__index = Checkpointer

local SETTINGS = { dir = true, every_epochs = true, every_steps = true, keep_last = true, resume = true }
local OBJECTS = { model = true, optimizer = true, scheduler = true, loader = true, strategy = true, extra = true,
                  checkpoint = true }

-- A usage mistake in a setting: one line, exit 2 (like a bad run option).
local function refuse(message) trainrt.exit(2, "trainrt: " .. message) end

local function positive_integer(value, key, from)
  if value == nil then return nil end
  if math.type(value) ~= "integer" or value < 1 then
    refuse(("%s%s must be a positive integer, got '%s'"):format(from, key, tostring(value)))
  end
  return value
end

-- The settings: opts.checkpoint (or opts' own setting keys), else the config section.
local function settings_of(opts)
  local config = type(trainrt.config) == "table" and type(trainrt.config.checkpoint) == "table"
    and trainrt.config.checkpoint or {}
  local given = type(opts.checkpoint) == "table" and opts.checkpoint or opts
  local s = {}
  for key in pairs(SETTINGS) do
    if given[key] ~= nil then s[key] = given[key] else s[key] = config[key] end
  end
  for key in pairs(given) do
    if given == opts.checkpoint and not SETTINGS[key] then
      refuse(("checkpoint: unknown setting '%s' (dir, every_epochs, every_steps, keep_last, resume)"):format(key))
    end
  end
  local from = "checkpoint."
  if s.dir ~= nil and (type(s.dir) ~= "string" or s.dir == "") then refuse("checkpoint.dir must be a directory path") end
  if s.resume ~= nil and (type(s.resume) ~= "string" or s.resume == "") then
    refuse("--resume expects auto or a checkpoint file, got '" .. tostring(s.resume) .. "'")
  end
  s.every_epochs = positive_integer(s.every_epochs, "every_epochs", from)
  s.every_steps = positive_integer(s.every_steps, "every_steps", from)
  s.keep_last = positive_integer(s.keep_last, "keep_last", from)
  if s.dir and not s.every_epochs and not s.every_steps then s.every_epochs = 1 end
  return s
end

-- opts: model, optimizer, scheduler, loader (what to save and restore),
-- strategy (default trainrt.strategy()), extra (a function returning a table
-- saved with each checkpoint; ck.extra holds the restored one), and the settings
-- (directly or as opts.checkpoint = {...}).
function Checkpointer.new(opts)
  opts = opts or {}
  for key in pairs(opts) do
    if not SETTINGS[key] and not OBJECTS[key] then
      error("Checkpointer: unknown option '" .. tostring(key) .. "'", 2)
    end
  end
  local self = setmetatable(settings_of(opts), Checkpointer)
  self.resume_spec = rawget(self, "resume")  -- the setting; self:resume() is the method
  rawset(self, "resume", nil)
  self.model, self.optimizer, self.scheduler = opts.model, opts.optimizer, opts.scheduler
  -- A loader without state_dict (a plain iterable) is not saved: resuming restarts its epoch.
  local has_position, method = pcall(function() return opts.loader.state_dict end)
  if has_position and type(method) == "function" then self.loader = opts.loader end
  self.extra_fn = opts.extra
  self.strategy = opts.strategy or trainrt.strategy()
  self.epoch, self.step = 0, 0  -- epochs completed, optimizer steps taken
  if self.dir and self.strategy:is_main() then
    local ok, err = pcall(trainrt._checkpoint.makedirs, self.dir)
    if not ok then trainrt.exit(2, "trainrt: --checkpoint-dir " .. tostring(err)) end
  end
  return self
end
setmetatable(Checkpointer, { __call = function(_, opts) return Checkpointer.new(opts) end })

function Checkpointer:_objects()
  return { model = self.model, optimizer = self.optimizer, scheduler = self.scheduler, loader = self.loader }
end

-- Restores the checkpoint named by resume ("auto": the newest complete one in
-- dir, or nothing) and returns the first epoch to run: 1 when starting fresh,
-- else the epoch after the last completed one (the loader continues mid-epoch
-- when the checkpoint was taken there).
function Checkpointer:resume()
  if not self.resume_spec then return 1 end
  local checkpoint = require "trainrt.checkpoint"
  local path = self.resume_spec
  if path == "auto" then
    if not self.dir then refuse("--resume auto needs --checkpoint-dir DIR, the folder to look in") end
    path = checkpoint.latest(self.dir)
    if not path then
      self.strategy:print("checkpoint: no checkpoint in " .. self.dir .. "; starting fresh")
      return 1
    end
  elseif trainrt._checkpoint.kind(path) ~= "file" then
    refuse("--resume " .. path .. ": no such file")
  end
  local ok, info = pcall(self.strategy.load_checkpoint, self.strategy, path, self:_objects())
  if not ok then trainrt.exit(1, "trainrt: --resume: " .. tostring(info)) end
  local progress = type(info.progress) == "table" and info.progress or {}
  self.epoch = math.tointeger(progress.epoch) or 0
  self.step = math.tointeger(progress.step) or 0
  self.extra = info.extra
  self.resumed_from = path
  self.strategy:print(("checkpoint: resumed from %s (epochs done %d, step %d)"):format(path, self.epoch, self.step))
  return self.epoch + 1
end

-- Call after each optimizer step: counts it and saves every `every_steps`.
function Checkpointer:after_step()
  self.step = self.step + 1
  if self.dir and self.every_steps and self.step % self.every_steps == 0 then self:save() end
end

-- Call when `epoch` is complete (after its evaluation and scheduler step): saves every `every_epochs`.
function Checkpointer:after_epoch(epoch)
  self.epoch = epoch
  if self.dir and self.every_epochs and epoch % self.every_epochs == 0 then self:save() end
end

-- Saves now into dir as ckpt-s<step>-e<epochs done>.safetensors (+ its state
-- file), then keeps only the newest keep_last. Returns the path.
function Checkpointer:save()
  if not self.dir then error("Checkpointer:save: no checkpoint directory (--checkpoint-dir)", 2) end
  local path = ("%s/ckpt-s%09d-e%04d.safetensors"):format(self.dir, self.step, self.epoch)
  local state = self:_objects()
  state.progress = { epoch = self.epoch, step = self.step }
  if self.extra_fn then state.extra = self.extra_fn() end
  self.strategy:save_checkpoint(path, state)
  if self.strategy:is_main() then self:_prune() end
  self.last_saved = path
  return path
end

-- Keeps the newest keep_last checkpoints; also removes state files no model
-- file names and temporaries of processes that no longer run.
function Checkpointer:_prune()
  local checkpoint = require "trainrt.checkpoint"
  local native = trainrt._checkpoint
  local list = checkpoint.list(self.dir)
  if self.keep_last then
    for i = 1, #list - self.keep_last do
      local state = native.kind(list[i].path) == "file" and select(2, pcall(native.header, list[i].path))
      pcall(native.remove, list[i].path)  -- the model file first: no checkpoint without its state
      if type(state) == "table" and state.metadata["trainrt.state"] then
        pcall(native.remove, self.dir .. "/" .. (state.metadata["trainrt.state"]:gsub("/", "")))
      end
    end
  end
  local referenced = {}
  for _, c in ipairs(checkpoint.list(self.dir)) do
    local ok, header = pcall(native.header, c.path)
    if ok and header.metadata["trainrt.state"] then referenced[header.metadata["trainrt.state"]] = true end
  end
  for _, name in ipairs(native.listdir(self.dir) or {}) do
    if name:match("^ckpt%-s%d+%-e%d+%.state%-%x+%.safetensors$") and not referenced[name] then
      pcall(native.remove, self.dir .. "/" .. name)
    end
    local pid = name:match("^%.ckpt%-.*%.tmp%-(%d+)%-%d+$")
    if pid and native.kind("/proc/" .. pid) == nil then pcall(native.remove, self.dir .. "/" .. name) end
  end
end

return Checkpointer
