-- nn.Conv2d(in_channels, out_channels, kernel_size [, {stride=1, padding=0, dilation=1, groups=1, bias=true}]).
-- x: (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight: (C_out, C_in/groups, kH, kW), bias: (C_out).
-- Sizes are a number or a pair {h, w}. Initialised like PyTorch (kaiming_uniform a = sqrt(5)).
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local Conv2d = Module:extend("Conv2d")

local function pair(v, what)
  if type(v) == "number" then return { v, v } end
  assert(type(v) == "table" and #v == 2, "nn.Conv2d: " .. what .. " must be a number or a pair {h, w}")
  return { v[1], v[2] }
end

function Conv2d:__init(in_channels, out_channels, kernel_size, opts)
  opts = opts or {}
  self.in_channels, self.out_channels = in_channels, out_channels
  self.kernel_size = pair(kernel_size, "kernel_size")
  self.stride = pair(opts.stride or 1, "stride")
  self.padding = pair(opts.padding or 0, "padding")
  self.dilation = pair(opts.dilation or 1, "dilation")
  self.groups = opts.groups or 1
  if in_channels % self.groups ~= 0 or out_channels % self.groups ~= 0 then
    error(string.format("nn.Conv2d: in_channels (%d) and out_channels (%d) must be divisible by groups (%d)",
      in_channels, out_channels, self.groups), 3)
  end
  local kh, kw = self.kernel_size[1], self.kernel_size[2]
  self.weight = trainrt.empty({ out_channels, in_channels // self.groups, kh, kw })
      :kaiming_uniform_(math.sqrt(5)):requires_grad(true)
  if opts.bias ~= false then
    local fan_in = (in_channels // self.groups) * kh * kw
    local bound = 1 / math.sqrt(fan_in)
    self.bias = trainrt.empty({ out_channels }):uniform_(-bound, bound):requires_grad(true)
  end
  self._conv_opts = { stride = self.stride, padding = self.padding, dilation = self.dilation, groups = self.groups }
end

function Conv2d:forward(x)
  return trainrt.F.conv2d(x, self.weight, self.bias, self._conv_opts)
end

local function pair_str(p)
  return "(" .. p[1] .. ", " .. p[2] .. ")"
end

function Conv2d:extra_repr()
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels, self.out_channels,
    pair_str(self.kernel_size), pair_str(self.stride))
  if self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. pair_str(self.padding) end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. pair_str(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

return Conv2d
