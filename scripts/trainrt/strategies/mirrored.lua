-- mirrored: one process drives several devices, as TensorFlow's
-- MirroredStrategy does. The script's model stays on the first device as
-- replica 1; setup() copies it to every other device (bitwise the same values)
-- and builds one optimizer per extra replica of the same class and settings.
-- The model setup() returns splits each global batch along dim 1 as evenly as
-- possible (the first replicas take one more sample when it does not divide),
-- runs replica r on its slice on its own device and gathers the outputs on the
-- first device, so the script's loss averages over the global batch and each
-- replica's gradient is weighted by its sample count. backward() sums the
-- replicas' gradients into replica 1's (one flat buffer per replica); step()
-- copies that sum to every replica and steps every optimizer with it, so the
-- replicas stay identical without a broadcast of parameters.
-- Batch semantics are TensorFlow's: --batch-size is the global batch, and one
-- loader reads the whole dataset. Buffers (BatchNorm running statistics) are
-- per replica, each from its own slices; replica 1's are the ones saved.
-- Devices: opts.devices or [mirrored] devices (a list or "cpu:0,cpu:1"), else
-- trainrt.devices (--devices). Nothing here waits for a device: kernels are
-- queued on each device's stream, so the replicas' work overlaps.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"
local Strategy = require "trainrt.strategies.Strategy"

local Mirrored = Strategy:extend("mirrored")

local is_tensor = trainrt.is_tensor

local function device_list(spec)
  if type(spec) == "string" then
    local list = {}
    for name in spec:gmatch("[^,]+") do list[#list + 1] = name end
    spec = list
  end
  if type(spec) ~= "table" or #spec == 0 then
    error("mirrored: devices must be a non-empty list such as {\"cpu:0\", \"cpu:1\"}", 4)
  end
  local seen, out = {}, {}
  for i, name in ipairs(spec) do
    if type(name) ~= "string" then error("mirrored: device " .. i .. " is not a string", 4) end
    if not name:find(":", 1, true) then name = name .. ":0" end
    if seen[name] then error("mirrored: device " .. name .. " is listed twice", 4) end
    seen[name] = true
    out[i] = name
  end
  return out
end

function Mirrored:__init(opts)
  Strategy.__init(self, opts)
  self.devices = device_list(opts.devices or self:settings().devices or trainrt.devices or { "cpu:0" })
  self.device = self.devices[1]
  self.num_replicas = #self.devices
  self._optimizers = {}  -- the script's optimizer -> { replica 2's, replica 3's, ... }
  self._active = 0       -- replicas that ran a forward since the last synchronised backward
  self._sync = true
  self._steps = 0
end

-- ---- copies ----------------------------------------------------------------

-- A deep copy of a module tree for `device`: modules and plain tables are
-- copied, tensors moved (a parameter stays a leaf that requires grad), classes,
-- functions and other values shared.
local function replicate(value, device, memo)
  if memo[value] ~= nil then return memo[value] end
  if is_tensor(value) then
    local copy = value:detach():to(device)
    if value:requires_grad() and value:is_leaf() then copy:requires_grad(true) end
    memo[value] = copy
    return copy
  end
  if type(value) ~= "table" or not (Module.is_module(value) or getmetatable(value) == nil) then return value end
  local copy = {}
  memo[value] = copy
  for k, v in pairs(value) do rawset(copy, replicate(k, device, memo), replicate(v, device, memo)) end
  return setmetatable(copy, getmetatable(value))
end

-- A copy of `t`'s tables with tensors on `device` (optimizer state).
local function copy_to(t, device)
  if is_tensor(t) then return t:detach():to(device):clone() end
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy_to(v, device) end
  return out
end

-- The script's optimizer re-made for another replica: same class, settings
-- and state, its parameters looked up in `moved` (replica 1's -> this one's).
local function replicate_optimizer(optimizer, moved, device)
  local copy = setmetatable({}, getmetatable(optimizer))
  for k, v in pairs(optimizer) do copy[k] = v end
  copy.defaults = copy_to(optimizer.defaults, device)
  copy.param_groups = {}
  for gi, group in ipairs(optimizer.param_groups) do
    local g = {}
    for k, v in pairs(group) do g[k] = v end
    g.params = {}
    for i, p in ipairs(group.params) do
      g.params[i] = moved[p] or error(("mirrored: parameter %d of the optimizer's group %d is not one of " ..
                                        "the model's (build the optimizer on model:parameters())"):format(i, gi), 4)
    end
    copy.param_groups[gi] = g
  end
  copy.state = copy_to(optimizer.state, device)
  return copy
end

-- Replicas on several devices exchange gradients with cross-device copies: a
-- capture spans devices, so a mirrored step runs eagerly.
function Mirrored:compile(step_fn) return step_fn end

-- ---- the model setup() returns ---------------------------------------------

-- Replica 1 stands for the model (parameters, state_dict, printing); calls that
-- change it reach every replica. Fields not found here are replica 1's, so
-- model[1] is its first layer.
local MirroredModel = Module:extend("Mirrored")

function MirroredModel:__index(key)
  local method = MirroredModel[key]
  if method ~= nil then return method end
  local replicas = rawget(self, "_replicas")
  return replicas and replicas[1][key]
end

function MirroredModel:__init(strategy, replicas)
  rawset(self, "_strategy", strategy)
  rawset(self, "_replicas", replicas)
  rawset(self, "training", replicas[1].training)
end

-- Sizes of the non-empty slices of a batch of n over `count` replicas: as even
-- as possible, the first ones one larger (TensorFlow's split).
function MirroredModel.split_sizes(n, count)
  local sizes, base, extra = {}, n // count, n % count
  for r = 1, count do
    local size = base + (r <= extra and 1 or 0)
    if size > 0 then sizes[#sizes + 1] = size end
  end
  return sizes
end

local function gather(outputs, device)
  local first = outputs[1]
  if is_tensor(first) then
    local parts = {}
    for r, out in ipairs(outputs) do parts[r] = r == 1 and out or out:to(device) end
    return trainrt.cat(parts, 1)
  end
  if type(first) == "table" then  -- a list of tensors: each gathered
    local gathered = {}
    for i = 1, #first do
      local column = {}
      for r, out in ipairs(outputs) do column[r] = out[i] end
      gathered[i] = gather(column, device)
    end
    return gathered
  end
  error("mirrored: a replica's forward returned a " .. type(first) .. "; expected a tensor or a list of tensors", 3)
end

-- x (N, ...) -> replica r's outputs on its slice of N, gathered along dim 1 on
-- the first device. Other arguments reach every replica as they are.
function MirroredModel:forward(x, ...)
  local strategy, replicas = rawget(self, "_strategy"), rawget(self, "_replicas")
  if not is_tensor(x) or x:dim() == 0 then
    error("mirrored: the model's first argument must be a batch tensor (N, ...) to split over the replicas", 2)
  end
  local sizes = MirroredModel.split_sizes(x:size(1), #replicas)
  if #sizes <= 1 then
    strategy._active = math.max(strategy._active, 1)
    return replicas[1](x, ...)
  end
  strategy._active = math.max(strategy._active, #sizes)
  -- Every replica's forward is queued before any output is moved, so they overlap.
  local outputs, start = {}, 1
  for r, size in ipairs(sizes) do
    local slice = x:narrow(1, start, size)
    local device = strategy.devices[r]
    if slice:device() ~= device then slice = slice:to(device) end
    outputs[r] = replicas[r](slice, ...)
    start = start + size
  end
  return gather(outputs, strategy.devices[1])
end

function MirroredModel:train(mode)
  for _, m in ipairs(rawget(self, "_replicas")) do m:train(mode) end
  rawset(self, "training", rawget(self, "_replicas")[1].training)
  return self
end

function MirroredModel:zero_grad()
  for _, m in ipairs(rawget(self, "_replicas")) do m:zero_grad() end
  return self
end

-- Loads into replica 1, then copies it to the others.
function MirroredModel:load_state_dict(sd, strict)
  local result = rawget(self, "_replicas")[1]:load_state_dict(sd, strict)
  rawget(self, "_strategy"):_copy_from_first()
  return result
end

-- fn on replica 1 (e.g. an initialisation), then replica 1 copied to the others.
function MirroredModel:apply(fn)
  rawget(self, "_replicas")[1]:apply(fn)
  rawget(self, "_strategy"):_copy_from_first()
  return self
end

function MirroredModel:to(device)
  error("mirrored: the model lives on " .. table.concat(rawget(self, "_strategy").devices, ", ") ..
        "; call :to before strategy:setup", 2)
end

for _, name in ipairs({ "parameters", "named_parameters", "buffers", "named_buffers", "state_dict", "num_parameters",
                        "children", "named_children", "modules", "named_modules", "extra_repr" }) do
  MirroredModel[name] = function(self, ...)
    local first = rawget(self, "_replicas")[1]
    return first[name](first, ...)
  end
end
MirroredModel.__tostring = function(self) return tostring(rawget(self, "_replicas")[1]) end

-- ---- the strategy ------------------------------------------------------------

function Mirrored:setup(model, optimizer)
  if self.model then error("mirrored:setup: this strategy already set up a model; use one strategy per model", 2) end
  if not Module.is_module(model) then error("mirrored:setup: an nn.Module expected", 2) end
  model, optimizer = Strategy.setup(self, model, optimizer)  -- onto the first device when it is not the CPU
  local first = self.devices[1]
  for name, t in pairs(model:state_dict()) do
    if t:device() ~= first then
      error(("mirrored:setup: %s is on %s; the model must be on the first device, %s"):format(name, t:device(), first), 2)
    end
  end
  local replicas = { model }
  self._moved = { {} }  -- [r][replica 1's parameter] = replica r's
  for r = 2, self.num_replicas do
    local memo = {}
    replicas[r] = replicate(model, self.devices[r], memo)
    self._moved[r] = memo
  end
  self._replicas = replicas
  self._params = {}  -- [r] = replica r's parameters, in replica 1's order
  for r, m in ipairs(replicas) do self._params[r] = m:parameters() end
  self.model = MirroredModel(self, replicas)
  if optimizer then self:_add_optimizer(optimizer) end
  return self.model, optimizer
end

function Mirrored:_add_optimizer(optimizer)
  if type(optimizer) ~= "table" or type(optimizer.param_groups) ~= "table" or type(optimizer.step) ~= "function" then
    error("mirrored: expected a trainrt.optim optimizer, got " .. tostring(optimizer), 3)
  end
  local copies = {}
  for r = 2, self.num_replicas do copies[r] = replicate_optimizer(optimizer, self._moved[r], self.devices[r]) end
  self._optimizers[optimizer] = copies
end

-- The replicas (replica 1 is the script's model), for tests and inspection.
function Mirrored:replicas()
  return { table.unpack(self._replicas or {}) }
end

-- Replica r's parameters (r from 1), in the order of model:parameters().
function Mirrored:replica_parameters(r)
  if not self._params or not self._params[r] then
    error(("mirrored:replica_parameters: no replica %s (1 to %d, after setup)"):format(tostring(r), self.num_replicas), 2)
  end
  return { table.unpack(self._params[r]) }
end

-- Replica 1's parameters and buffers copied into every other replica (after a
-- load, or anything else that changed replica 1 alone).
function Mirrored:_copy_from_first()
  if not self._replicas then return end
  local first = self._replicas[1]
  local names, sources = {}, first:state_dict()
  for name in pairs(sources) do names[#names + 1] = name end
  table.sort(names)
  trainrt.no_grad(function()
    for r = 2, #self._replicas do
      local targets = self._replicas[r]:state_dict()
      for _, name in ipairs(names) do targets[name]:copy_(sources[name]:to(self.devices[r])) end
    end
  end)
  for optimizer, copies in pairs(self._optimizers) do
    for r = 2, #self._replicas do
      local copy = copies[r]
      copy.state = copy_to(optimizer.state, self.devices[r])
    end
  end
end

-- Replica r's gradients as one flat tensor on its device (nil when it has none);
-- a parameter without a gradient counts as zeros.
function Mirrored:_flat_gradients(r)
  local parts, any = {}, false
  for i, p in ipairs(self._params[r]) do
    local g = p:grad()
    if g then
      any = true
      parts[i] = g:reshape({ g:numel() })
    else
      parts[i] = trainrt.zeros({ p:numel() }, { dtype = p:dtype(), device = p:device() })
    end
  end
  if not any then return nil end
  return trainrt.cat(parts, 1)
end

-- Sets replica r's gradients to views of `flat` (its layout from _flat_gradients).
function Mirrored:_set_gradients(r, flat)
  local offset = 1
  for _, p in ipairs(self._params[r]) do
    local n = p:numel()
    p:set_grad(flat:narrow(1, offset, n):view(p:size()))
    offset = offset + n
  end
end

-- The replicas' gradients summed into replica 1's; the others' are dropped
-- (step() hands them the sum), so they start from zero at the next backward.
function Mirrored:_sum_gradients()
  local active = math.min(self._active, self.num_replicas)
  self._active = 0
  if active <= 1 or not self._params then return end
  local first = self.devices[1]
  local total = self:_flat_gradients(1)
  for r = 2, active do
    local flat = self:_flat_gradients(r)
    if flat then
      flat = flat:to(first)
      total = total and total + flat or flat
    end
    for _, p in ipairs(self._params[r]) do p:zero_grad() end
  end
  if total then self:_set_gradients(1, total) end
end

function Mirrored:backward(loss)
  loss:backward()
  if self._sync then self:_sum_gradients() end
end

-- Gradients of every backward inside fn stay on their replicas and add up; the
-- next synchronised backward sums all of them (gradient accumulation).
function Mirrored:no_sync(fn)
  local previous = self._sync
  self._sync = false
  local result = table.pack(pcall(fn))
  self._sync = previous
  if not result[1] then error(result[2], 0) end
  return table.unpack(result, 2, result.n)
end

-- Every replica steps with replica 1's gradients (the sum from backward, or
-- whatever the script made of them since) and replica 1's hyper-parameters
-- (a scheduler changes those), so all replicas compute the same update.
function Mirrored:step(optimizer)
  if not self._replicas then error("mirrored:step: call strategy:setup(model, optimizer) first", 2) end
  local copies = self._optimizers[optimizer]
  if copies == nil then  -- an optimizer built after setup, on model:parameters()
    self:_add_optimizer(optimizer)
    copies = self._optimizers[optimizer]
  end
  local flat = self.num_replicas > 1 and self:_flat_gradients(1)
  local result = optimizer:step()
  for r = 2, self.num_replicas do
    local copy = copies[r]
    for gi, group in ipairs(optimizer.param_groups) do
      local g = copy.param_groups[gi]
      for k, v in pairs(group) do if k ~= "params" then g[k] = v end end
    end
    if flat then
      self:_set_gradients(r, flat:to(self.devices[r]))
      -- parameters that had no gradient on replica 1 get none here either
      for i, p in ipairs(self._params[1]) do
        if not p:grad() then self._params[r][i]:zero_grad() end
      end
      copy:step()
      for _, p in ipairs(self._params[r]) do p:zero_grad() end
    end
  end
  self._steps = self._steps + 1
  return result
end

function Mirrored:to_device(...)
  local out = table.pack(...)
  for i = 1, out.n do
    if is_tensor(out[i]) and out[i]:device() ~= self.device then out[i] = out[i]:to(self.device) end
  end
  return table.unpack(out, 1, out.n)
end

-- A resume restores replica 1 (and the script's optimizer); the others follow.
function Mirrored:load_checkpoint(path, objects)
  local info = Strategy.load_checkpoint(self, path, objects)
  self:_copy_from_first()
  return info
end

function Mirrored:stats()
  return { replicas = self.num_replicas, devices = { table.unpack(self.devices) }, steps = self._steps }
end

function Mirrored:__tostring()
  return ("mirrored(%d replica%s on %s)"):format(self.num_replicas, self.num_replicas == 1 and "" or "s",
    table.concat(self.devices, ", "))
end

Mirrored.Model = MirroredModel
return Mirrored
