// The host's side of the plugin layer contract, through `trainrt train` with
// real plugins on TRAINRT_PLUGIN_PATH: several differentiable outputs feed one
// backward call, a layer registered with ABI 1.0's shorter struct still works,
// nn.PluginLayer makes a layer's parameters a module's parameters that train,
// and attribute mistakes are one line naming the layer and the attribute.
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

std::string plugins_env(const std::vector<std::string>& names) {
  std::string path;
  for (const std::string& n : names) path += (path.empty() ? "" : ":") + std::string(TRAINRT_TEST_PLUGIN_DIR) + "/trt-" + n + ".so";
  return "TRAINRT_PLUGIN_PATH='" + path + "'";
}

ScriptResult run_with_plugins(const std::string& body, const std::vector<std::string>& plugins) {
  auto dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << kLuaCheckPrelude << body;
  return run_trainrt("train script.lua", dir, plugins_env(plugins));
}

void expect_checks(const ScriptResult& r, const std::vector<std::string>& checks) {
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string& what : checks)
    EXPECT_NE(r.output.find("ok " + what + "\n"), std::string::npos) << "missing check '" << what << "' in:\n" << r.output;
}

TEST(PluginLayer, TwoDifferentiableOutputsReachOneBackward) {
  ScriptResult r = run_with_plugins(R"lua(
local x = trainrt.randn({3, 8}, {dtype = "float64"}):requires_grad(true)
local a, b = trainrt.layer("split_halves", {x})
check(shape_str(a) == "(3, 4)" and shape_str(b) == "(3, 4)", "two outputs")
check_close(a, x:detach():narrow(2, 1, 4) * 2, 1e-12, "a = 2 x_left")
check_close(b, x:detach():narrow(2, 5, 4) ^ 2, 1e-12, "b = x_right^2")
-- both used: d(sum(3a + b))/dx = [6, 2 x_right]
local total = (a * 3):sum() + b:sum()
total:backward()
check_close(x:grad():narrow(2, 1, 4), 6, 1e-12, "both gradients arrive")
check_close(x:grad():narrow(2, 5, 4), x:detach():narrow(2, 5, 4) * 2, 1e-12, "both gradients arrive (b)")
-- only b used: a's gradient is zero
x:zero_grad()
local _, b2 = trainrt.layer("split_halves", {x})
b2:sum():backward()
check_close(x:grad():narrow(2, 1, 4), 0, 0, "unused output gives zero")
check(trainrt.gradcheck(function(x) return trainrt.layer("split_halves", {x}) end, {x}), "gradcheck of both outputs")
)lua",
                                    {"test-multi-output"});
  expect_checks(r, {"two outputs", "a = 2 x_left", "b = x_right^2", "both gradients arrive", "both gradients arrive (b)", "unused output gives zero",
                    "gradcheck of both outputs"});
}

TEST(PluginLayer, ALayerRegisteredWithTheAbi10StructStillWorks) {
  ScriptResult r = run_with_plugins(R"lua(
local info = trainrt.layer_info("old_double")
check(info.outputs == 1 and info.params == 0 and #info.attrs == 0 and not info.strided_inputs,
      "appended fields read as zero")
local x = trainrt.randn({4, 5}, {dtype = "float64"}):requires_grad(true)
local y = trainrt.layer("old_double", {x:t()})   -- strided input: the host copies it
check_close(y, x:detach():t() * 2, 0, "forward on a transposed input")
y:sum():backward()
check_close(x:grad(), 2, 0, "backward")
)lua",
                                    {"test-multi-output"});
  expect_checks(r, {"appended fields read as zero", "forward on a transposed input", "backward"});
}

TEST(PluginLayer, PluginLayerModuleOwnsAndTrainsTheLayersParameters) {
  ScriptResult r = run_with_plugins(R"lua(
local Affine = nn.PluginLayer("affine")
check(nn.PluginLayer("affine") == Affine, "one class per layer")
local model = nn.Sequential{nn.Linear(3, 6), Affine{features = 6}, nn.Linear(6, 2)}
local names = {}
for name, p in pairs(model:state_dict()) do names[#names + 1] = name end
table.sort(names)
check(table.concat(names, " ") == "1.bias 1.weight 2.bias 2.weight 3.bias 3.weight", "parameters in state_dict")
check_close(model[2].weight, 1, 0, "weight initialised to ones")
check_close(model[2].bias, 0, 0, "bias initialised to zeros")
check(#model:parameters() == 6, "parameters() counts them")
check(tostring(model[2]):find("affine%(features=6%)") ~= nil, "printed with its attributes")
local opt = optim.SGD(model:parameters(), {lr = 0.1})
local x, target = trainrt.randn({8, 3}), trainrt.randn({8, 2})
local first
for step = 1, 20 do
  opt:zero_grad()
  local loss = F.mse_loss(model(x), target)
  loss:backward()
  opt:step()
  first = first or loss:item()
end
check(model[2].weight:grad() ~= nil, "the layer's parameters get gradients")
check((model[2].bias:abs():sum()):item() > 0, "and the optimizer moves them")
check(F.mse_loss(model(x), target):item() < first, "loss falls")
)lua",
                                    {"test-layers"});
  expect_checks(r, {"one class per layer", "parameters in state_dict", "weight initialised to ones",
                    "bias initialised to zeros", "parameters() counts them", "printed with its attributes",
                    "the layer's parameters get gradients", "and the optimizer moves them", "loss falls"});
}

TEST(PluginLayer, AttributeMistakesNameTheLayerAndTheAttribute) {
  ScriptResult r = run_with_plugins(R"lua(
local x = trainrt.randn({5, 6})
local w, b = trainrt.ones({6}), trainrt.zeros({6})
local function expect_error(f, pattern, label)
  local ok, e = pcall(f)
  if ok or not tostring(e):find(pattern) then error(label .. ": got " .. tostring(e)) end
  print("ok " .. label)
end
expect_error(function() return trainrt.layer("affine", {x, w, b}, {feature = 6}) end,
  "layer 'affine': unknown attribute 'feature' %(known: features%)", "unknown attribute")
expect_error(function() return trainrt.layer("affine", {x, w, b}) end,
  "layer 'affine': attribute 'features' is required", "required attribute")
expect_error(function() return trainrt.layer("affine", {x, w, b}, {features = 6.5}) end,
  "attribute 'features' must be an integer, got 6.5", "integer attribute")
expect_error(function() return trainrt.layer("affine", {x, w, b}, {features = "six"}) end,
  "layer attribute 'features' must be a number, got string", "number")
expect_error(function() return trainrt.layer("affine", {x, w}, {features = 6}) end,
  "layer 'affine': expects 3 inputs %(parameters included%), got 2", "input count")
expect_error(function() return trainrt.layer("affine", {x, w, b}, {features = 4}) end,
  "layer 'affine': x must be %(N, features%)", "the plugin's own message")
expect_error(function() return trainrt.layer("split_halves", {x}, {scale = 2}) end,
  "layer 'split_halves': takes no named attributes", "layer without attributes")
expect_error(function() return nn.PluginLayer("no_such_layer") end,
  "layer 'no_such_layer': no plugin registered it for cpu", "unknown layer")
)lua",
                                    {"test-layers", "test-multi-output"});
  expect_checks(r, {"unknown attribute", "required attribute", "integer attribute", "number", "input count",
                    "the plugin's own message", "layer without attributes", "unknown layer"});
}

}  // namespace
}  // namespace trainrt::test
