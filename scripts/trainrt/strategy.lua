-- trainrt.strategy([spec [, opts]]): the strategy a training script talks to.
-- spec: a name ("single", "ddp", "mirrored": scripts/trainrt/strategies/NAME.lua), a path to
-- a .lua file, a module on package.path (the script's folder, TRAINRT_LUA_PATH),
-- or a class made with Strategy:extend. Without spec: --strategy / strategy in
-- trainrt.toml, else "ddp" when the process was started as one of several
-- (trainrt launch, torchrun variables, mpirun, srun), else "single"; that one is
-- created once per run and every later trainrt.strategy() returns it (the
-- example scripts and trainrt.fit share it).
local trainrt = require "trainrt"
local Strategy = require "trainrt.strategies.Strategy"

local run_strategy = nil

-- A strategy that cannot be found or loaded is a usage mistake: one line, exit 2.
local function refuse(message) trainrt.exit(2, "trainrt: " .. message) end

local function load_file(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then refuse(("--strategy %s: %s"):format(path, err)) end
  return chunk()
end

local function try_require(name)
  local ok, result = pcall(require, name)
  if ok then return result end
  if tostring(result):find("module '" .. name .. "' not found", 1, true) then return nil end
  error(result, 0)  -- the module exists but failed to load: show why
end

local function resolve(spec)
  if type(spec) == "table" then return spec, "a class" end
  if type(spec) ~= "string" or spec == "" then
    error("trainrt.strategy: expected a strategy name, a path or a class, got " .. type(spec), 3)
  end
  if spec:find("/", 1, true) or spec:match("%.lua$") then
    local f = io.open(spec, "r")
    if not f then refuse(("--strategy %s: no such file"):format(spec)) end
    f:close()
    return load_file(spec), spec
  end
  if spec:match("^[%w_]+$") then
    local builtin = try_require("trainrt.strategies." .. spec)
    if builtin then return builtin, spec end
  end
  local user = try_require(spec)
  if user then return user, spec end
  refuse(("--strategy %s: no such strategy (built in: single, ddp, mirrored; or a path to a .lua file, or a module on " ..
          "TRAINRT_LUA_PATH)"):format(spec))
end

local function instantiate(spec, opts)
  local cls, where = resolve(spec)
  if type(cls) ~= "table" or type(cls.new) ~= "function" or not cls.setup then
    refuse(("--strategy %s: the script must return a class made with Strategy:extend(name) " ..
            "(require \"trainrt.strategies.Strategy\")"):format(where))
  end
  return cls:new(opts or {})
end

return function(spec, opts)
  if spec ~= nil then return instantiate(spec, opts) end
  if not run_strategy then
    local configured = type(trainrt.config) == "table" and trainrt.config.strategy
    if not configured then configured = trainrt._dist.env().world_size > 1 and "ddp" or "single" end
    run_strategy = instantiate(configured, opts)
  end
  return run_strategy
end
