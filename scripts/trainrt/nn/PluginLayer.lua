-- nn.PluginLayer(name): a Module class for a layer a plugin registered whole
-- (trt_layer_def), so a C++/CUDA layer is used like any built-in module:
--   local LayerNorm = nn.PluginLayer("layernorm")
--   local norm = LayerNorm{features = 256, eps = 1e-5}   -- parameters created here
--   local y = norm(x)                                       -- x: (N, 256) -> y: (N, 256)
-- The constructor's table holds the layer's declared attributes; the layer's
-- parameters (its last inputs, described by the plugin's param()) become this
-- module's parameters under the plugin's names. forward returns every output
-- of the layer (Sequential passes only the first one on).
local trainrt = require "trainrt"
local Module = require "trainrt.nn.Module"

local classes = {}  -- one class per layer name

local function PluginLayer(name)
  assert(type(name) == "string", "nn.PluginLayer(name): name must be a string")
  if classes[name] then return classes[name] end
  local info = trainrt.layer_info(name)  -- raises, naming refused plugins, when no plugin has it
  local cls = Module:extend(name)

  function cls:__init(attrs)
    attrs = attrs or {}
    assert(type(attrs) == "table", "nn.PluginLayer('" .. name .. "'): attributes must be a table")
    rawset(self, "_attrs", attrs)
    rawset(self, "_param_names", {})
    for _, p in ipairs(trainrt.layer_parameters(name, attrs)) do
      self[p.name] = p.tensor
      table.insert(rawget(self, "_param_names"), p.name)
    end
  end

  function cls:forward(...)
    local inputs = { ... }
    for _, p in ipairs(rawget(self, "_param_names")) do inputs[#inputs + 1] = self[p] end
    return trainrt.layer(name, inputs, rawget(self, "_attrs"))
  end

  function cls:extra_repr()
    local parts = {}
    for _, a in ipairs(info.attrs) do
      local v = rawget(self, "_attrs")[a.name]
      if v ~= nil then parts[#parts + 1] = a.name .. "=" .. tostring(v) end
    end
    return table.concat(parts, ", ")
  end

  classes[name] = cls
  return cls
end

return PluginLayer
