-- nn.Sequential: runs its children in order, each output feeding the next.
-- nn.Sequential{a, b, c} or nn.Sequential():add(a):add(b); children are
-- model[1], model[2], ... and named "1", "2", ... in state dicts.
local Module = require "trainrt.nn.Module"

local Sequential = Module:extend("Sequential")

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

function Sequential:forward(x)
  for i = 1, rawlen(self) do x = self[i](x) end
  return x
end

return Sequential
