-- The seed CNN of train.lua, as a model definition that `trainrt serve` loads
-- (docs/serving.md) and train.lua builds with require "model". Inputs are
-- normalised images, (x / 255 - 0.2860) / 0.3530, as the training loader gives.
--   trainrt serve --model examples/mnist/model.lua --checkpoint ck/   (newest checkpoint in ck/)
local nn = require "trainrt.nn"

return {
  input_shape = { 1, 28, 28 },
  -- x: (N, 1, 28, 28) -> logits (N, 10)
  build = function()
    return nn.Sequential{
      nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),   -- (N, 32, 14, 14)
      nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),  -- (N, 64, 7, 7)
      nn.Flatten(),                                                       -- (N, 3136)
      nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
      nn.Linear(128, 10),
    }
  end,
}
