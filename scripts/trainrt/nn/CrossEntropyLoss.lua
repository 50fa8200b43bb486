-- nn.CrossEntropyLoss([{reduction = "mean"}]): log_softmax + nll in one op.
-- logits: (N, C) float, target: (N) int64 class indices in [0, C) -> scalar ("mean"/"sum") or (N) ("none").
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local CrossEntropyLoss = Module:extend("CrossEntropyLoss")

function CrossEntropyLoss:__init(opts)
  self.reduction = (opts and opts.reduction) or "mean"
  self._opts = { reduction = self.reduction }
end

function CrossEntropyLoss:forward(logits, target)
  return trainrt.F.cross_entropy(logits, target, self._opts)
end

function CrossEntropyLoss:extra_repr()
  return "reduction=" .. self.reduction
end

return CrossEntropyLoss
