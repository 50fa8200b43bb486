-- nn.Module: the base class of every layer, and the class helper for modules
-- written in pure Lua (PyTorch's nn.Module, Torch7's nn.Module).
-- Fields assigned on an instance are registered in order: a leaf tensor that
-- requires grad is a parameter, a Module (or a plain list of Modules) a child;
-- buffers (e.g. BatchNorm running stats) are declared with register_buffer.
local trainrt = require "trainrt"

local Module = {}
Module.__index = Module
Module.__name = "Module"
Module.__is_module = true

local is_tensor = trainrt.is_tensor

-- Metamethods are looked up raw on the instance's metatable, so every class
-- carries its own copy.
local METAMETHODS = { "__call", "__tostring", "__newindex" }

local function construct(cls, ...)
  local self = setmetatable({}, cls)
  rawset(self, "_fields", {})    -- names of fields in assignment order
  rawset(self, "_buffers", {})   -- name -> true for registered buffers
  rawset(self, "training", true)
  self:__init(...)
  return self
end

-- local MyNet = nn.Module:extend("MyNet"); function MyNet:__init(...) end; MyNet(...)
function Module:extend(name)
  assert(type(name) == "string", "Module:extend(name): name must be a string")
  local cls = {}
  for _, k in ipairs(METAMETHODS) do cls[k] = self[k] end
  cls.__index = cls
  cls.__name = name
  cls.super = self
  return setmetatable(cls, { __index = self, __call = construct, __tostring = function() return name end })
end
setmetatable(Module, { __call = construct, __tostring = function() return "Module" end })

function Module.is_module(v)
  return type(v) == "table" and v.__is_module == true and getmetatable(v) ~= nil and rawget(v, "_fields") ~= nil
end
local is_module = Module.is_module

function Module:__init() end

function Module:__newindex(key, value)
  if value ~= nil and (type(key) ~= "string" or key:sub(1, 1) ~= "_") then
    local fields = rawget(self, "_fields")
    fields[#fields + 1] = key
  end
  rawset(self, key, value)
end

function Module:__call(...)
  return self:forward(...)
end

function Module:forward()
  error(self.__name .. ":forward is not implemented", 2)
end

-- Whether forward may keep its input or its output past the call (in a field,
-- a cache, a closure) or hand them to code that might. Containers drop their
-- reference to an intermediate between two children only when neither keeps
-- it (nn.Sequential: memory back as soon as the next layer has run, instead of
-- at Lua's next collection), so a module that keeps one stays correct by
-- default: a class that provably keeps neither returns false.
function Module:keeps_activations()
  return true
end

-- Explicit registration, for names built at run time.
function Module:register_parameter(name, t)
  assert(t == nil or (is_tensor(t) and t:requires_grad()), "register_parameter: a tensor that requires grad expected")
  self[name] = t
  return t
end

function Module:register_buffer(name, t)
  assert(t == nil or is_tensor(t), "register_buffer: a tensor expected")
  rawget(self, "_buffers")[name] = true
  self[name] = t
  return t
end

function Module:add_module(name, m)
  assert(is_module(m), "add_module: a Module expected")
  self[name] = m
  return m
end

local function is_parameter(v)
  return is_tensor(v) and v:requires_grad() and v:is_leaf()
end

-- Own parameters: fn(name, tensor) in registration order.
local function each_own(self, want_buffers, fn)
  local buffers = rawget(self, "_buffers")
  local seen = {}
  for _, key in ipairs(rawget(self, "_fields")) do
    if not seen[key] then
      seen[key] = true
      local v = rawget(self, key)
      if is_tensor(v) then
        local is_buffer = buffers[key] == true
        if want_buffers and is_buffer then
          fn(tostring(key), v)
        elseif not want_buffers and not is_buffer and is_parameter(v) then
          fn(tostring(key), v)
        end
      end
    end
  end
end

-- Children: fn(name, module); a plain list of modules gives name.1, name.2, ...
local function each_child(self, fn)
  local seen = {}
  for _, key in ipairs(rawget(self, "_fields")) do
    if not seen[key] then
      seen[key] = true
      local v = rawget(self, key)
      if is_module(v) then
        fn(tostring(key), v)
      elseif type(v) == "table" and getmetatable(v) == nil and is_module(v[1]) then
        for i, m in ipairs(v) do
          if is_module(m) then fn(tostring(key) .. "." .. i, m) end
        end
      end
    end
  end
end

-- An iterator over { {name, value}, ... } giving name, value (the named_* methods).
local function iterate_named(list)
  local i = 0
  return function()
    i = i + 1
    if list[i] then return list[i][1], list[i][2] end
  end
end

-- The values of { {name, value}, ... } as a list.
local function values_of(list)
  local out = {}
  for _, entry in ipairs(list) do out[#out + 1] = entry[2] end
  return out
end

-- for name, m in model:named_children() do ... end
function Module:named_children()
  local list = {}
  each_child(self, function(name, m) list[#list + 1] = { name, m } end)
  return iterate_named(list)
end

function Module:children()
  local list = {}
  each_child(self, function(_, m) list[#list + 1] = m end)
  return list
end

-- Depth first, self first: { {name, module}, ... } ("" for self).
local function collect_modules(self, prefix, out, seen)
  if seen[self] then return out end
  seen[self] = true
  out[#out + 1] = { prefix, self }
  each_child(self, function(name, m)
    collect_modules(m, prefix == "" and name or prefix .. "." .. name, out, seen)
  end)
  return out
end

function Module:named_modules()
  return iterate_named(collect_modules(self, "", {}, {}))
end

function Module:modules()
  return values_of(collect_modules(self, "", {}, {}))
end

-- fn(m) for every module, children first (PyTorch's apply); returns self.
function Module:apply(fn)
  for _, m in ipairs(self:children()) do m:apply(fn) end
  fn(self)
  return self
end

-- { {dotted_name, tensor}, ... }; a tensor shared by two modules appears once.
local function collect_tensors(self, want_buffers)
  local out, seen_tensor = {}, {}
  for _, entry in ipairs(collect_modules(self, "", {}, {})) do
    local prefix, m = entry[1], entry[2]
    each_own(m, want_buffers, function(name, t)
      if not seen_tensor[t] then
        seen_tensor[t] = true
        out[#out + 1] = { prefix == "" and name or prefix .. "." .. name, t }
      end
    end)
  end
  return out
end

-- for name, p in model:named_parameters() do ... end  (names like "1.weight", "fc1.bias")
function Module:named_parameters()
  return iterate_named(collect_tensors(self, false))
end

-- The parameters as a list, for optimizers: optim.SGD{model:parameters(), lr = 0.1}.
function Module:parameters()
  return values_of(collect_tensors(self, false))
end

function Module:named_buffers()
  return iterate_named(collect_tensors(self, true))
end

function Module:buffers()
  return values_of(collect_tensors(self, true))
end

-- Sets `training` on self and every descendant; returns self.
function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, "training", mode and true or false) end
  return self
end

function Module:eval()
  return self:train(false)
end

function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p:zero_grad() end
  return self
end

-- Number of scalar parameters (Keras' count_params).
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

-- name -> tensor for parameters and buffers; the tensors share storage with the
-- module (detached), so saving them saves the current values.
function Module:state_dict()
  local sd = {}
  for _, entry in ipairs(collect_tensors(self, false)) do sd[entry[1]] = entry[2]:detach() end
  for _, entry in ipairs(collect_tensors(self, true)) do sd[entry[1]] = entry[2]:detach() end
  return sd
end

local function shape_str(t)
  return "(" .. table.concat(t:size(), ", ") .. ")"
end

-- Copies values in place (parameters keep their identity, so an optimizer
-- built before still updates them). strict (default true): missing or
-- unexpected keys are an error naming them.
function Module:load_state_dict(sd, strict)
  if strict == nil then strict = true end
  local targets = {}
  for _, entry in ipairs(collect_tensors(self, false)) do targets[entry[1]] = entry[2] end
  for _, entry in ipairs(collect_tensors(self, true)) do targets[entry[1]] = entry[2] end
  local missing, unexpected = {}, {}
  for name in pairs(targets) do
    if sd[name] == nil then missing[#missing + 1] = name end
  end
  for name in pairs(sd) do
    if targets[name] == nil then unexpected[#unexpected + 1] = name end
  end
  table.sort(missing)
  table.sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    local parts = {}
    if #missing > 0 then parts[#parts + 1] = "missing keys: " .. table.concat(missing, ", ") end
    if #unexpected > 0 then parts[#parts + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
    error(self.__name .. ":load_state_dict: " .. table.concat(parts, "; "), 2)
  end
  local names = {}
  for name in pairs(targets) do names[#names + 1] = name end
  table.sort(names)
  trainrt.no_grad(function()
    for _, name in ipairs(names) do
      local dst, src = targets[name], sd[name]
      if src ~= nil then
        if not is_tensor(src) then src = trainrt.tensor(src, { dtype = dst:dtype() }) end
        if shape_str(src) ~= shape_str(dst) then
          error(string.format("%s:load_state_dict: size mismatch for %s: copying %s into %s", self.__name, name,
            shape_str(src), shape_str(dst)), 0)
        end
        dst:copy_(src)
      end
    end
  end)
  return { missing_keys = missing, unexpected_keys = unexpected }
end

local function same_device(a, b)
  if not a:find(":") then a = a .. ":0" end
  if not b:find(":") then b = b .. ":0" end
  return a == b
end

-- Moves parameters and buffers to a device ("cpu", "cuda:0"); parameters stay
-- leaves that require grad. Build the optimizer after moving.
function Module:to(device)
  for _, m in ipairs(self:modules()) do
    local buffers = rawget(m, "_buffers")
    for _, key in ipairs(rawget(m, "_fields")) do
      local v = rawget(m, key)
      if is_tensor(v) and not same_device(v:device(), device) then
        if buffers[key] then
          rawset(m, key, v:to(device))
        elseif is_parameter(v) then
          rawset(m, key, v:detach():to(device):requires_grad(true))
        end
      end
    end
  end
  return self
end

-- Text inside the parentheses of this module's line, e.g. "in_features=4, ...".
function Module:extra_repr()
  return ""
end

local function indent(s, n)
  local pad = string.rep(" ", n)
  return (s:gsub("\n", "\n" .. pad))
end

-- PyTorch-style tree:  Sequential(\n  (1): Linear(in_features=4, out_features=2, bias=true)\n)
function Module:__tostring()
  local lines = {}
  local extra = self:extra_repr()
  if extra ~= "" then lines[1] = extra end
  each_child(self, function(name, m)
    lines[#lines + 1] = "(" .. name .. "): " .. indent(tostring(m), 2)
  end)
  local children = 0
  each_child(self, function() children = children + 1 end)
  if children == 0 then return self.__name .. "(" .. extra .. ")" end
  return self.__name .. "(\n  " .. table.concat(lines, "\n  ") .. "\n)"
end

return Module
