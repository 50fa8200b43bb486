-- nn.Sequential: runs its children in order, each output feeding the next.
-- nn.Sequential{a, b, c} or nn.Sequential():add(a):add(b); children are
-- model[1], model[2], ... and named "1", "2", ... in state dicts.
-- An intermediate (one child's output, the next child's input) is released as
-- soon as the next child has consumed it when neither child keeps activations
-- (Module:keeps_activations), so a no_grad forward of a large batch holds about
-- two activations at a time, not every layer's output until Lua's collector
-- runs; such an intermediate goes through an nn.ReLU in place, and an
-- nn.Conv2d -> nn.ReLU -> nn.MaxPool2d run is one F.conv2d_relu_max_pool2d
-- (the convolution's output is never whole). The caller's input and the
-- returned output are never released.
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

local Conv2d, MaxPool2d -- loaded on first use
-- Under no_grad, children i .. i+2 that are exactly nn.Conv2d, nn.ReLU and
-- nn.MaxPool2d run as one F.conv2d_relu_max_pool2d: the convolution's output
-- is pooled a few samples at a time and never exists whole.
local function conv_relu_pool_at(self, i)
  Conv2d, MaxPool2d = Conv2d or require "trainrt.nn.Conv2d", MaxPool2d or require "trainrt.nn.MaxPool2d"
  ReLU = ReLU or require "trainrt.nn.ReLU"
  return i + 2 <= rawlen(self) and getmetatable(self[i]) == Conv2d and getmetatable(self[i + 1]) == ReLU and
      getmetatable(self[i + 2]) == MaxPool2d
end

function Sequential:forward(x)
  local input = x
  local wait = not trainrt.grad_enabled()  -- no graph holds it: have its memory back before the next layer allocates
  local i, n = 1, rawlen(self)
  while i <= n do
    local y, last = nil, i  -- last: the last child this iteration ran
    if wait and is_tensor(x) and conv_relu_pool_at(self, i) then
      local conv, pool = self[i], self[i + 2]
      y = trainrt.F.conv2d_relu_max_pool2d(x, conv.weight, conv.bias, conv._conv_opts, pool.kernel_size, pool._opts)
      last = i + 2
    elseif wait and i > 1 and x ~= input and is_tensor(x) and not keeps(self[i - 1]) and relu_in_place(self[i], x) then
      y = x:relu_()
    else
      y = self[i](x)
    end
    -- x is child i-1's output, just consumed by child i; a child may return its input (Dropout in eval).
    if i > 1 and x ~= input and x ~= y and is_tensor(x) and not keeps(self[i - 1]) and not keeps(self[last]) then
      x:_release(wait)
    end
    x = y
    i = last + 1
  end
  return x
end

return Sequential
