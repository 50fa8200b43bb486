// A convolution over a large batch (evaluation at batch 1000) through the
// binary: oneDNN's reorder buffers come from trainrt's allocator for the call
// and the forward runs in chunks, so the call needs little beyond its output,
// and every sample's result is what a forward of that sample's chunk alone gives.
// Under no_grad, nn.Sequential's Conv2d -> ReLU -> MaxPool2d runs as
// F.conv2d_relu_max_pool2d, which never holds the whole convolution output.
#include <gtest/gtest.h>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(ConvBatchMemory, ALargeBatchForwardNeedsLittleBeyondItsOutputAndMatchesSmallBatches) {
  expect_script_passes(R"lua(
trainrt.manual_seed(5)
local x = trainrt.randn{ 1000, 8, 16, 16 }      -- 7.8 MiB
local w, b = trainrt.randn{ 32, 8, 3, 3 }, trainrt.randn{ 32 }
local opts = { padding = 1 }
x:sum():item()
trainrt.reset_peak_memory("cpu")
local before, rss_before = trainrt.memory().live_bytes, trainrt.process().peak_rss_bytes
local y = F.conv2d(x, w, b, opts)                -- y: (1000, 32, 16, 16), 31.3 MiB
y:sum():item()
local out = y:numel() * 4
local extra = trainrt.memory().peak_bytes - before - out
local rss_extra = trainrt.process().peak_rss_bytes - rss_before - out
print(string.format("beyond the output: %.1f MiB in tensors and oneDNN buffers, %.1f MiB resident", extra / 2^20,
  rss_extra / 2^20))
-- Whole-batch buffers in oneDNN's own layout (outside trainrt's allocator) would add another
-- output and more. Resident memory gets room for allocator overheads (AddressSanitizer's redzones
-- and quarantine made 16.6 MiB of 8 MiB of chunk buffers).
check(extra < 0.25 * out and rss_extra < 0.75 * out, "little beyond the output")
for _, range in ipairs{ { 1, 50 }, { 120, 30 }, { 971, 30 } } do
  local part = F.conv2d(x:narrow(1, range[1], range[2]), w, b, opts)
  check((part - y:narrow(1, range[1], range[2])):abs():max():item() == 0, "samples " .. range[1] .. " alone")
end
local ref = F.conv2d(x:narrow(1, 200, 40):double(), w:double(), b:double(), opts)
check_close(y:narrow(1, 200, 40), ref, 1e-3, "against float64")
)lua",
                       {"little beyond the output", "samples 1 alone", "samples 120 alone", "samples 971 alone",
                        "against float64"});
}

TEST(ConvBatchMemory, NoGradConvReluPoolBlocksNeverHoldTheWholeConvolutionOutput) {
  expect_script_passes(R"lua(
local nn = require "trainrt.nn"
trainrt.manual_seed(6)
local model = nn.Sequential{
  nn.Conv2d(1, 32, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 3, { padding = 1 }), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(3136, 10),
}
model:eval()
local x = trainrt.randn{ 1000, 1, 28, 28 }
x:sum():item()
-- The unfused forward, layer by layer, with a graph (no fusion under grad mode).
local h = model[3](model[2](model[1](x)))
local expected = model[8](model[7](model[6](model[5](model[4](h)))))
expected:sum():item()
h, expected = h:detach(), expected:detach()
trainrt.reset_peak_memory("cpu")
local before = trainrt.memory().live_bytes
local y = trainrt.no_grad(function() return model(x) end)
y:sum():item()
local peak = trainrt.memory().peak_bytes - before
local conv1_out = 1000 * 32 * 28 * 28 * 4   -- 100 MB, never whole
print(string.format("no_grad forward at batch 1000: %.1f MiB above the input", peak / 2^20))
check(peak < 0.75 * conv1_out, "under 3/4 of the first convolution's output")  -- unfused: above it
check((y - expected):abs():max():item() == 0, "equal to the unfused forward")
-- The functional form, with and without bias, against the composition.
local conv, pool = model[1], model[3]
for _, b in ipairs{ conv.bias, false } do
  local fused = trainrt.no_grad(function()
    return F.conv2d_relu_max_pool2d(x, conv.weight, b or nil, conv._conv_opts, 2)
  end)
  local ref = F.max_pool2d(F.relu(F.conv2d(x, conv.weight, b or nil, conv._conv_opts)), 2)
  check((fused - ref):abs():max():item() == 0, b and "functional with bias" or "functional without bias")
end
-- With grad mode on it is the composition, gradients included.
local w = conv.weight:detach():requires_grad(true)
F.conv2d_relu_max_pool2d(x:narrow(1, 1, 4), w, nil, conv._conv_opts, 2):sum():backward()
local w2 = conv.weight:detach():requires_grad(true)
F.max_pool2d(F.relu(F.conv2d(x:narrow(1, 1, 4), w2, nil, conv._conv_opts)), 2):sum():backward()
check((w:grad() - w2:grad()):abs():max():item() == 0, "gradient through the composition")
local ok, err = pcall(trainrt.no_grad, function() return F.conv2d_relu_max_pool2d(x, conv.weight, nil, nil, 29) end)
print(err)
check(not ok and tostring(err):find("(the convolution's output)", 1, true), "pool larger than the output")
)lua",
                       {"under 3/4 of the first convolution's output", "equal to the unfused forward",
                        "functional with bias", "functional without bias", "gradient through the composition",
                        "pool larger than the output"});
}

}  // namespace
}  // namespace trainrt::test
