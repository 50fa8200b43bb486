// A training-style loop that creates tensors every iteration and never frees
// them by hand must keep native memory flat: the binding drives Lua's
// collector by native bytes (runtime/lua/memory.cpp).
#include <gtest/gtest.h>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(LuaMemory, LoopOf2000IterationsStaysFlat) {
  ScriptResult r = run_lua_script(R"lua(
local w = trainrt.randn(256, 256):requires_grad(true)
local first, peak = nil, 0
for i = 1, 2000 do
  local x = trainrt.randn(64, 256)
  local loss = ((x:matmul(w)):relu() * 0.5 + 1):mean()
  loss:backward()
  w:zero_grad()
  local live = trainrt.memory().live_bytes
  if i == 100 then first = live end
  if i > 100 and live > peak then peak = live end
end
local m = trainrt.memory()
print(string.format("after100=%d peak=%d collections=%d", first, peak, m.collections))
-- Each iteration makes ~0.5 MiB of tensors; without pacing 2000 of them would be ~1 GiB.
assert(peak < 96 * 1024 * 1024, "native memory grew to " .. peak .. " bytes")
assert(m.collections > 0, "the collector was never driven by native bytes")
print("flat")
)lua");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("flat\n"), std::string::npos) << r.output;
}

// Lua runs finalizers in reverse order of registration, so a tensor created
// after a table with __gc is finalized first; the table's finalizer must then
// see a freed tensor (a Lua error), not a destroyed C++ object (a crash).
TEST(LuaMemory, TensorUsedByALaterFinalizerIsFreedNotDestroyed) {
  ScriptResult r = run_lua_script(R"lua(
local holder = setmetatable({}, {__gc = function(self)
  local ok, err = pcall(function() return self.t:sum():item() end)
  print("finalizer ok=" .. tostring(ok) .. " " .. tostring(err))
end})
holder.t = trainrt.ones(100000)
holder = nil
collectgarbage()
collectgarbage()
local again = trainrt.zeros(100000)
print("survived")
)lua");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("already freed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("survived\n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
