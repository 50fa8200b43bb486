-- optim.Optimizer: the base of SGD, Adam and AdamW (torch.optim.Optimizer).
-- Holds param_groups (each a table of hyper-parameters plus `params`, a list of
-- tensors) and per-parameter state; state_dict/load_state_dict for checkpoints.
-- Subclasses implement _update(p, grad, group, state).
local trainrt = require "trainrt"

local Optimizer = {}
Optimizer.__index = Optimizer
Optimizer.__name = "Optimizer"

local function construct(cls, ...)
  local self = setmetatable({}, cls)
  self:__init(...)
  return self
end

function Optimizer:extend(name)
  local cls = setmetatable({}, { __index = self, __call = construct })
  cls.__index = cls
  cls.__name = name
  cls.super = self
  cls.__tostring = self.__tostring
  return cls
end
setmetatable(Optimizer, { __call = construct })

local is_tensor = trainrt.is_tensor

-- Accepts optim.X{params, lr = ...}, optim.X(params, {lr = ...}) and
-- optim.X{params = ..., lr = ...}, where params is a list of tensors or a list
-- of groups {params = {...}, lr = ...} (per-group options override defaults).
function Optimizer:__init(args, opts, defaults)
  local params
  if opts ~= nil then
    params = args
  else
    opts = args or {}
    params = opts.params or opts[1]
  end
  if type(params) == "table" and type(params.parameters) == "function" then params = params:parameters() end
  if type(params) ~= "table" then error(self.__name .. ": a list of parameters expected (model:parameters())", 3) end
  self.defaults = {}
  for k, v in pairs(defaults) do
    if opts[k] ~= nil then self.defaults[k] = opts[k] else self.defaults[k] = v end
  end
  for k in pairs(opts) do
    if type(k) == "string" and k ~= "params" and defaults[k] == nil then
      error(string.format("%s: unknown option '%s'", self.__name, k), 3)
    end
  end
  local groups
  if is_tensor(params[1]) or #params == 0 then groups = { { params = params } } else groups = params end
  self.param_groups = {}
  self.state = {}  -- [flat index over all groups' params] = {...}
  for gi, g in ipairs(groups) do
    if type(g.params) ~= "table" then error(string.format("%s: param group %d has no params list", self.__name, gi), 3) end
    local group = { params = {} }
    for k, v in pairs(self.defaults) do group[k] = v end
    for k, v in pairs(g) do if k ~= "params" then group[k] = v end end
    for i, p in ipairs(g.params) do
      if not is_tensor(p) then error(string.format("%s: param %d of group %d is not a tensor", self.__name, i, gi), 3) end
      group.params[i] = p
    end
    group.initial_lr = group.initial_lr or group.lr
    self.param_groups[gi] = group
  end
  if #self.param_groups == 0 or #self.param_groups[1].params == 0 then
    error(self.__name .. ": got an empty parameter list", 3)
  end
  self:_check(self.defaults)
end

-- Validates hyper-parameters (subclasses).
function Optimizer:_check(opts) end

-- fn(p, group, flat_index) for every parameter.
function Optimizer:_each(fn)
  local k = 0
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      k = k + 1
      fn(p, group, k)
    end
  end
end

function Optimizer:zero_grad()
  self:_each(function(p) p:zero_grad() end)
end

-- One update of every parameter that has a gradient. closure (optional):
-- re-evaluates the loss, returned as step's result. Inside a step being
-- captured by trainrt.compile, the update is a host node: the learning rate
-- and step count live here on the host, so every replay calls it again.
function Optimizer:step(closure)
  return trainrt.compile_host(function() return self:_step(closure) end)
end

-- A subclass may define _update_group(group, updates) instead, to update a
-- group's parameters together: updates = {{p, grad, state}, ...}, in order.
function Optimizer:_step(closure)
  local loss
  if closure then loss = closure() end
  local updates, current = {}, nil
  local function flush()
    if current and #updates > 0 then self:_update_group(current, updates) end
    updates = {}
  end
  self:_each(function(p, group, k)
    local grad = p:grad()
    if grad == nil then return end
    local state = self.state[k]
    if state == nil then
      state = {}
      self.state[k] = state
    end
    if not self._update_group then return self:_update(p, grad, group, state) end
    if group ~= current then flush(); current = group end
    updates[#updates + 1] = { p, grad, state }
  end)
  if self._update_group then flush() end
  return loss
end

local function copy_table(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

-- {state = {[k] = {step = n, exp_avg = tensor, ...}}, param_groups = {{lr = ..., params = {1, 2, ...}}}}:
-- parameters are referred to by their position, like torch.optim.
function Optimizer:state_dict()
  local groups, k = {}, 0
  for gi, group in ipairs(self.param_groups) do
    local g = copy_table(group)
    g.params = {}
    for i = 1, #group.params do
      k = k + 1
      g.params[i] = k
    end
    groups[gi] = g
  end
  local state = {}
  for i, s in pairs(self.state) do state[i] = copy_table(s) end
  return { state = state, param_groups = groups }
end

-- Restores hyper-parameters and state (tensors copied into fresh buffers).
function Optimizer:load_state_dict(sd)
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" then
    error(self.__name .. ":load_state_dict: not an optimizer state dict", 2)
  end
  if #sd.param_groups ~= #self.param_groups then
    error(string.format("%s:load_state_dict: the state has %d param groups, the optimizer %d", self.__name,
      #sd.param_groups, #self.param_groups), 2)
  end
  for gi, g in ipairs(sd.param_groups) do
    local group = self.param_groups[gi]
    if #g.params ~= #group.params then
      error(string.format("%s:load_state_dict: group %d has %d params in the state, %d in the optimizer", self.__name, gi,
        #g.params, #group.params), 2)
    end
    for key, v in pairs(g) do if key ~= "params" then group[key] = v end end
  end
  self.state = {}
  for i, s in pairs(sd.state or {}) do
    local copy = {}
    for key, v in pairs(s) do
      if is_tensor(v) then copy[key] = v:detach():clone() else copy[key] = v end
    end
    self.state[tonumber(i)] = copy
  end
end

function Optimizer:__tostring()
  local lines = { self.__name .. " (" }
  for gi, group in ipairs(self.param_groups) do
    lines[#lines + 1] = "Parameter Group " .. (gi - 1)
    local keys = {}
    for key in pairs(group) do if key ~= "params" then keys[#keys + 1] = key end end
    table.sort(keys)
    for _, key in ipairs(keys) do
      local v = group[key]
      if type(v) == "table" then v = "(" .. table.concat(v, ", ") .. ")" end
      lines[#lines + 1] = "    " .. key .. ": " .. tostring(v)
    end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

-- A zero tensor shaped like p (same dtype and device).
function Optimizer.zeros_like(p)
  return trainrt.zeros(p:size(), { dtype = p:dtype(), device = p:device() })
end

return Optimizer
