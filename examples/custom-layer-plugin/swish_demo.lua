-- Uses the out-of-tree layer-swish plugin from Lua: forward against the
-- formula, backward against central finite differences, then a tiny model.
-- Run: TRAINRT_PLUGIN_PATH=build trainrt train swish_demo.lua
local beta = 1.5
local x = trainrt.randn({4, 5}):requires_grad(true)   -- x: (4, 5)
local y = trainrt.layer("swish", {x}, {beta})          -- y: (4, 5)

local expected = x:detach() * (x:detach() * beta):sigmoid()
local forward_err = (y - expected):abs():max():item()
assert(forward_err < 1e-6, "swish forward differs from x * sigmoid(beta x) by " .. forward_err)

y:sum():backward()
local g = x:grad()
local eps = 1e-3
local worst = 0
for i = 1, 4 do
  for j = 1, 5 do
    local v = x[i][j]:item()
    local function f(t) return t / (1 + math.exp(-beta * t)) end
    local numeric = (f(v + eps) - f(v - eps)) / (2 * eps)
    worst = math.max(worst, math.abs(numeric - g[i][j]:item()))
  end
end
assert(worst < 1e-3, "swish backward differs from finite differences by " .. worst)
print(string.format("swish ok: forward error %.2e, gradient error %.2e", forward_err, worst))
