-- optim.AdamW{params, lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2}:
-- Adam with decoupled weight decay (p = p - lr * wd * p before the Adam update),
-- as torch.optim.AdamW.
local Adam = require "trainrt.optim.Adam"
local Optimizer = require "trainrt.optim.Optimizer"

local AdamW = Adam:extend("AdamW")
AdamW._decoupled = true

function AdamW:__init(args, opts)
  Optimizer.__init(self, args, opts, { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 1e-2 })
end

return AdamW
