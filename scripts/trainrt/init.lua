-- trainrt: the module every script sees as the global `trainrt` (and gets from
-- require "trainrt"). The native part (tensors, trainrt.F, config, run context)
-- is "trainrt.core", built by runtime/lua; this file adds trainrt.args and loads
-- the Lua submodules (nn, optim, data, fit, progress, dist, strategy, checkpoint) on first use, so a script
-- that never touches trainrt.nn does not pay for it. It deliberately defines no
-- tensor code of its own.
local trainrt = require "trainrt.core"

trainrt.args = require "trainrt.args"

local SUBMODULES = { nn = true, optim = true, data = true, fit = true, progress = true, dist = true, strategy = true,
                     checkpoint = true }

return setmetatable(trainrt, {
  __index = function(t, key)
    if SUBMODULES[key] then
      local module = require("trainrt." .. key)
      rawset(t, key, module)
      return module
    end
  end,
})
