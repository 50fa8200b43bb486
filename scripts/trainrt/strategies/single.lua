-- single: one process, one device (trainrt.device); the Strategy base as is.
local Strategy = require "trainrt.strategies.Strategy"

return Strategy:extend("single")
