// trainrt.gradcheck from a script: true for a function of ops, an error with
// the reason (or false, reason with raise_exception = false) for a plugin layer
// whose backward is scaled by 2; and a plugin layer fed transposed, expanded
// and narrowed tensors from Lua gives the contiguous values and gradients.
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

std::string plugin_env(const std::string& name) {
  return "TRAINRT_PLUGIN_PATH='" + std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + name + ".so'";
}

ScriptResult run_with_plugin(const std::string& body, const std::string& plugin) {
  auto dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << kLuaCheckPrelude << body;
  return run_trainrt("train script.lua", dir, plugin_env(plugin));
}

TEST(GradcheckLua, PassesOnAFunctionOfOps) {
  expect_script_passes(R"lua(
local x = trainrt.randn({3, 4}, {dtype = "float64"}):requires_grad(true)
local w = trainrt.randn({4, 2}, {dtype = "float64"}):requires_grad(true)
local b = trainrt.randn({2}, {dtype = "float64"})   -- does not require grad: not checked
check(trainrt.gradcheck(function(x, w, b) return (x:matmul(w) + b):tanh() end, {x, w, b}) == true, "float64")
-- several results, a table of results, float32 with its default tolerances
check(trainrt.gradcheck(function(x) return x:sigmoid(), x:exp() end, {x}), "two results")
check(trainrt.gradcheck(function(x) return {x * 2, x:relu()} end, {x}), "table of results")
local xf = trainrt.randn({5}):requires_grad(true)
check(trainrt.gradcheck(function(x) return (x * x):sum() end, xf, {eps = 1e-3, atol = 1e-2}), "float32, one tensor")
check(x:grad() == nil, "the inputs' .grad untouched")
)lua",
                       {"float64", "two results", "table of results", "float32, one tensor", "the inputs' .grad untouched"});
}

TEST(GradcheckLua, AWrongGradientRaisesOrReturnsFalse) {
  expect_script_passes(R"lua(
local x = trainrt.rand({2, 3}, {dtype = "float64"}):requires_grad(true)
local wrong = function(x) return x * x:detach() end   -- autograd says x, the truth is 2x
local ok, err = pcall(trainrt.gradcheck, wrong, {x})
print(err)
check(not ok and err:find("gradcheck failed: gradient of input 1 %(2, 3%) at index") ~= nil, "raises")
local passed, msg = trainrt.gradcheck(wrong, {x}, {raise_exception = false})
check(passed == false and msg:find("autograd .* vs finite differences") ~= nil, "returns false, msg")
local ok2, err2 = pcall(trainrt.gradcheck, function(x) return 1 end, {x})
check(not ok2 and err2:find("fn must return tensors, got a number as result 1") ~= nil, "non-tensor result")
local ok3, err3 = pcall(trainrt.gradcheck, function(x) error("boom") end, {x})
check(not ok3 and err3:find("boom") ~= nil, "fn's own error passes through")
)lua",
                       {"raises", "returns false, msg", "non-tensor result", "fn's own error passes through"});
}

TEST(GradcheckLua, CatchesTheWrongBackwardOfAPluginLayer) {
  ScriptResult r = run_with_plugin(R"lua(
local x = trainrt.randn({3, 4}, {dtype = "float64"}):requires_grad(true)
local layer = function(name) return function(x) return trainrt.layer(name, {x}, {power = 2}) end end
check(trainrt.gradcheck(layer("fine_too"), {x}), "fine_too passes")
local ok, msg = trainrt.gradcheck(layer("twice_grad"), {x}, {raise_exception = false})
check(ok == false, "twice_grad fails")
print(msg)
local raised, err = pcall(trainrt.gradcheck, layer("twice_grad"), {x})
check(not raised and err:find("gradcheck failed") ~= nil, "twice_grad raises")
)lua",
                                   "test-layers-bad");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* line : {"ok fine_too passes\n", "ok twice_grad fails\n", "ok twice_grad raises\n",
                           "gradcheck failed: gradient of input 1 (3, 4)"})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << " missing in:\n" << r.output;
}

TEST(GradcheckLua, PluginLayerOnStridedTensorsMatchesContiguous) {
  // scale_square copies to contiguous in the host; scale_square_strided reads strides itself.
  ScriptResult r = run_with_plugin(R"lua(
local function run(name, base, view, gy)
  local leaf = base:detach():requires_grad(true)
  local y, stat = trainrt.layer(name, {view(leaf)}, {power = 3, scale = 0.5})
  y:backward(gy)
  return y:detach(), stat, leaf:grad()
end
local function same(name, what, base, view, gy, gy_contiguous)
  local y1, s1, g1 = run(name, base, view, gy)
  local y2, s2, g2 = run(name, base, function(t) return view(t):contiguous() end, gy_contiguous or gy)
  check_close(y1, y2, 1e-12, name .. " " .. what .. " output")
  check_close(s1, s2, 1e-12, name .. " " .. what .. " stat")
  check_close(g1, g2, 1e-12, name .. " " .. what .. " gradient")
end
local f64 = {dtype = "float64"}
local gy = trainrt.rand({4, 3}, f64)
for _, name in ipairs{"scale_square", "scale_square_strided"} do
  same(name, "transposed", trainrt.randn({3, 4}, f64), function(t) return t:t() end, gy)
  same(name, "expanded", trainrt.randn({1, 3}, f64), function(t) return t:expand(4, 3) end, gy)
  same(name, "narrowed", trainrt.randn({4, 6}, f64), function(t) return t:narrow(2, 2, 3) end, gy)
  local gt = trainrt.rand({3, 4}, f64):t()
  same(name, "grad transposed", trainrt.randn({4, 3}, f64), function(t) return t end, gt, gt:contiguous())
end
)lua",
                                   "test-layers");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* name : {"scale_square", "scale_square_strided"})
    for (const char* what : {"transposed", "expanded", "narrowed", "grad transposed"})
      EXPECT_NE(r.output.find(std::string("ok ") + name + " " + what + " gradient\n"), std::string::npos)
          << name << " " << what << " in:\n" << r.output;
}

}  // namespace
}  // namespace trainrt::test
