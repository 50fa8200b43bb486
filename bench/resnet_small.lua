-- A CIFAR-style ResNet for the GPU benchmark (bench/gpu.sh, bench/gpu_train.lua):
-- a 3x3 stem and three stages of two basic residual blocks (64, 128, 256
-- channels; stride 2 between stages), BatchNorm after every conv, global
-- average pooling and a linear classifier. About 2.8 million parameters on
-- (N, 3, 32, 32) inputs. A benchmark model, not a tuned one: no weight init
-- tricks, no data augmentation.
-- Use: local build = dofile("bench/resnet_small.lua"); local model, sample_shape = build{ classes = 10 }
local nn = require "trainrt.nn"

-- relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is a
-- strided 1x1 conv + BatchNorm when the shape changes, else the identity.
local BasicBlock = nn.Module:extend("BasicBlock")

function BasicBlock:__init(in_channels, out_channels, stride)
  self.conv1 = nn.Conv2d(in_channels, out_channels, 3, { stride = stride, padding = 1, bias = false })
  self.bn1 = nn.BatchNorm2d(out_channels)
  self.conv2 = nn.Conv2d(out_channels, out_channels, 3, { padding = 1, bias = false })
  self.bn2 = nn.BatchNorm2d(out_channels)
  if stride ~= 1 or in_channels ~= out_channels then
    self.shortcut = nn.Sequential{
      nn.Conv2d(in_channels, out_channels, 1, { stride = stride, bias = false }), nn.BatchNorm2d(out_channels),
    }
  end
end

function BasicBlock:forward(x)  -- x: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)
  local out = self.bn1(self.conv1(x)):relu()
  out = self.bn2(self.conv2(out))
  local skip = self.shortcut and self.shortcut(x) or x
  return (out + skip):relu()
end

return function(opts)
  opts = opts or {}
  local classes = opts.classes or 10
  local widths = opts.widths or { 64, 128, 256 }
  local layers = { nn.Conv2d(3, widths[1], 3, { padding = 1, bias = false }), nn.BatchNorm2d(widths[1]), nn.ReLU() }
  local channels = widths[1]
  for stage, width in ipairs(widths) do                       -- 32x32 -> 16x16 -> 8x8
    layers[#layers + 1] = BasicBlock(channels, width, stage == 1 and 1 or 2)
    layers[#layers + 1] = BasicBlock(width, width, 1)
    channels = width
  end
  layers[#layers + 1] = nn.AvgPool2d(8)                        -- (N, 256, 8, 8) -> (N, 256, 1, 1)
  layers[#layers + 1] = nn.Flatten()
  layers[#layers + 1] = nn.Linear(channels, classes)
  return nn.Sequential(layers), { 3, 32, 32 }
end
