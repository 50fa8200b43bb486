// A convolution over a large batch (evaluation at batch 1000) through the
// binary: oneDNN's reorder buffers come from trainrt's allocator for the call
// and the forward runs in chunks, so the call needs little beyond its output,
// and every sample's result is what a forward of that sample's chunk alone gives.
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

}  // namespace
}  // namespace trainrt::test
