-- nn.Linear(in_features, out_features [, {bias = true}]): y = x W^T + b.
-- x: (N, *, in) -> (N, *, out); weight: (out, in), bias: (out).
-- Initialised like PyTorch: kaiming_uniform(a = sqrt(5)), bias U(-1/sqrt(in), 1/sqrt(in)).
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Linear = Module:extend("Linear")

function Linear:__init(in_features, out_features, opts)
  opts = opts or {}
  assert(math.type(in_features) == "integer" and in_features > 0, "nn.Linear: in_features must be a positive integer")
  assert(math.type(out_features) == "integer" and out_features > 0, "nn.Linear: out_features must be a positive integer")
  self.in_features, self.out_features = in_features, out_features
  self.weight = trainrt.empty({ out_features, in_features }):kaiming_uniform_(math.sqrt(5)):requires_grad(true)
  if opts.bias ~= false then
    local bound = 1 / math.sqrt(in_features)
    self.bias = trainrt.empty({ out_features }):uniform_(-bound, bound):requires_grad(true)
  end
end

function Linear:forward(x)
  return trainrt.F.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features, self.out_features,
    tostring(self.bias ~= nil))
end

return Linear
