-- The shared body of nn.BatchNorm1d and nn.BatchNorm2d (PyTorch's _BatchNorm):
-- per-channel normalisation with learnable weight/bias and running statistics.
-- Training: batch mean and biased variance normalise; running_mean/running_var
-- (unbiased variance) move by `momentum`. Eval: the running statistics normalise.
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local BatchNorm = Module:extend("BatchNorm")

-- opts: {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true}
function BatchNorm:__init(num_features, opts)
  opts = opts or {}
  assert(math.type(num_features) == "integer" and num_features > 0, "BatchNorm: num_features must be a positive integer")
  self.num_features = num_features
  self.eps = opts.eps or 1e-5
  self.momentum = opts.momentum or 0.1
  self.affine = opts.affine ~= false
  self.track_running_stats = opts.track_running_stats ~= false
  if self.affine then
    self.weight = trainrt.ones({ num_features }):requires_grad(true)
    self.bias = trainrt.zeros({ num_features }):requires_grad(true)
  end
  if self.track_running_stats then
    self:register_buffer("running_mean", trainrt.zeros({ num_features }))
    self:register_buffer("running_var", trainrt.ones({ num_features }))
  end
end

-- Subclasses: the dims reduced over (1-based) and the shape a (C) vector takes to broadcast.
function BatchNorm:_layout(x)
  error(self.__name .. ":_layout is not implemented", 2)
end

function BatchNorm:reset_running_stats()
  if self.track_running_stats then
    self.running_mean:zero_()
    self.running_var:fill_(1)
  end
end

function BatchNorm:forward(x)
  local dims, bshape = self:_layout(x)
  local C = self.num_features
  if x:size(2) ~= C then
    error(string.format("%s: expected %d channels in dim 2, got input of size (%s)", self.__name, C,
      table.concat(x:size(), ", ")), 2)
  end
  local y
  if self.training or not self.track_running_stats then
    local n = x:numel() // C
    if n <= 1 then error(self.__name .. ": expected more than 1 value per channel when training", 2) end
    -- mean, var: (1, C, 1, 1)-like, biased variance as PyTorch normalises with
    local mean = x:mean(dims, true)
    local xc = x - mean
    local var = (xc * xc):mean(dims, true)
    y = xc / (var + self.eps):sqrt()
    if self.training and self.track_running_stats then
      local m = self.momentum
      local batch_mean = mean:detach():reshape(C)
      local batch_var = var:detach():reshape(C) * (n / (n - 1))  -- unbiased, as PyTorch stores it
      trainrt.no_grad(function()
        self.running_mean:copy_(self.running_mean * (1 - m) + batch_mean * m)
        self.running_var:copy_(self.running_var * (1 - m) + batch_var * m)
      end)
    end
  else
    -- y = (x - running_mean) / sqrt(running_var + eps)
    local scale = (self.running_var + self.eps):sqrt():reshape(bshape)
    y = (x - self.running_mean:reshape(bshape)) / scale
  end
  if self.affine then
    y = y * self.weight:reshape(bshape) + self.bias:reshape(bshape)
  end
  return y
end

function BatchNorm:extra_repr()
  return string.format("%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s", self.num_features, self.eps,
    self.momentum, tostring(self.affine), tostring(self.track_running_stats))
end

return BatchNorm
