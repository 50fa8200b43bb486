-- Calls the plugin's layers directly with trainrt.layer, without a dataset:
-- swish against its formula and finite differences, and layernorm's three
-- outputs (y, mean, rstd) against the same computation in trainrt ops.
-- Run: TRAINRT_PLUGIN_PATH=<plugin build dir> trainrt train swish_demo.lua
local beta = 1.5
local x = trainrt.randn({4, 5}):requires_grad(true)   -- x: (4, 5)
local y = trainrt.layer("swish", {x}, {beta = beta})    -- y: (4, 5)

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

-- layernorm: x (4, 5), gamma (5), beta (5) -> y (4, 5), mean (4), rstd (4)
local gamma, shift = trainrt.ones({5}), trainrt.zeros({5})
local ln_y, mean, rstd = trainrt.layer("layernorm", {x:detach(), gamma, shift}, {features = 5, eps = 1e-5})
local xd = x:detach()
local ref_mean = xd:mean(2)                                  -- (4)
local ref_rstd = (xd:var(2, false) + 1e-5):sqrt():pow(-1)    -- biased variance, (4)
local ref_y = (xd - ref_mean:unsqueeze(2)) * ref_rstd:unsqueeze(2)
local ln_err = math.max((ln_y - ref_y):abs():max():item(), (mean - ref_mean):abs():max():item(),
                        (rstd - ref_rstd):abs():max():item() / ref_rstd:abs():max():item())
assert(ln_err < 1e-4, "layernorm differs from (x - mean) * rstd by " .. ln_err)
print(string.format("layernorm ok: outputs %s, %s, %s; error %.2e", table.concat(ln_y:size(), "x"),
  table.concat(mean:size(), "x"), table.concat(rstd:size(), "x"), ln_err))
