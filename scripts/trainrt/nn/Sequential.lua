-- nn.Sequential: runs its children in order, each output feeding the next.
-- nn.Sequential{a, b, c} or nn.Sequential():add(a):add(b); children are
-- model[1], model[2], ... and named "1", "2", ... in state dicts.
-- An intermediate (one child's output, the next child's input) is released as
-- soon as the next child has consumed it when neither child keeps activations
-- (Module:keeps_activations), so a no_grad forward of a large batch holds about
-- two activations at a time, not every layer's output until Lua's collector
-- runs; such an intermediate goes through an nn.ReLU in place. The caller's
-- input and the returned output are never released.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Sequential = Module:extend("Sequential")
local is_tensor = trainrt.is_tensor

-- Built-in layers whose forward keeps neither its input nor its output (they
-- predate keeps_activations). Exact classes: a subclass is asked itself.
local STATELESS_BUILTINS = { "Conv2d", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "MaxPool2d",
                             "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d" }
local stateless -- class -> true, filled on first use (those files require Module, not us)
local function keeps(m)
  if not stateless then
    stateless = {}
    for _, name in ipairs(STATELESS_BUILTINS) do
      local ok, cls = pcall(require, "trainrt.nn." .. name)
      if ok and type(cls) == "table" then stateless[cls] = true end
    end
  end
  if stateless[getmetatable(m)] then return false end
  return m:keeps_activations() ~= false
end

function Sequential:__init(...)
  local layers = { ... }
  if #layers == 1 and type(layers[1]) == "table" and not Module.is_module(layers[1]) then layers = layers[1] end
  for i, m in ipairs(layers) do
    if not Module.is_module(m) then error("nn.Sequential: element " .. i .. " is not a Module", 3) end
    self:add(m)
  end
end

-- Appends a module; returns self so calls chain.
function Sequential:add(m)
  if not Module.is_module(m) then error("Sequential:add: a Module expected, got " .. type(m), 2) end
  self[rawlen(self) + 1] = m
  return self
end

function Sequential:size()
  return rawlen(self)
end

-- A Sequential keeps an activation only through a child that does.
function Sequential:keeps_activations()
  for i = 1, rawlen(self) do
    if keeps(self[i]) then return true end
  end
  return false
end

local ReLU -- nn.ReLU, loaded on first use
-- Under no_grad, an intermediate about to be released goes through a plain
-- nn.ReLU in place: no second activation of that size.
local function relu_in_place(m, x)
  ReLU = ReLU or require "trainrt.nn.ReLU"
  return getmetatable(m) == ReLU and x:is_contiguous()
end

function Sequential:forward(x)
  local input = x
  local wait = not trainrt.grad_enabled()  -- no graph holds it: have its memory back before the next layer allocates
  for i = 1, rawlen(self) do
    local y
    if wait and i > 1 and x ~= input and is_tensor(x) and not keeps(self[i - 1]) and relu_in_place(self[i], x) then
      y = x:relu_()
    else
      y = self[i](x)
    end
    -- x is child i-1's output, just consumed by child i; a child may return its input (Dropout in eval).
    if i > 1 and x ~= input and x ~= y and is_tensor(x) and not keeps(self[i - 1]) and not keeps(self[i]) then
      x:_release(wait)
    end
    x = y
  end
  return x
end

return Sequential
