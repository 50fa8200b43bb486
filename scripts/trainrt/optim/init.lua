-- trainrt.optim: optimizers and learning-rate schedulers, one class per file.
-- local optim = require "trainrt.optim"; optim.Adam{model:parameters(), lr = 1e-3}
local optim = {}

-- The manifest.
local CLASSES = { "Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "CosineAnnealingLR" }
for _, name in ipairs(CLASSES) do optim[name] = require("trainrt.optim." .. name) end
optim.lr_scheduler = { StepLR = optim.StepLR, CosineAnnealingLR = optim.CosineAnnealingLR }

return optim
