-- trainrt.args{epochs = 50, batch_size = 64, lr = 1e-3}: the script's own
-- command-line flags, argparse-style. Each key is a flag (`batch_size` is
-- --batch-size or --batch_size) whose type comes from its default: integer,
-- number, boolean (--shuffle / --no-shuffle / --shuffle=false) or string.
-- A default may carry help text: `epochs = {50, help = "passes over the data"}`.
-- Precedence: the table's default < trainrt.toml's [train] section (or
-- `--set train.epochs=5`) < the command line. --help lists the flags and the
-- run options and exits 0; an unknown flag or a bad value prints one line and
-- exits 2. Words that are not flags are returned in the array part.
-- The run options (--threads, --seed, ...) never reach here: the runner
-- consumes them wherever they appear. Not here: parsing of trainrt's own options.
local trainrt = require "trainrt.core"

local function flag_name(key) return "--" .. key:gsub("_", "-") end
local function key_of(flag) return (flag:gsub("^%-%-", ""):gsub("%-", "_")) end

local function kind_of(value)
  local t = math.type(value) or type(value)
  if t == "integer" or t == "float" or t == "boolean" or t == "string" then return t end
  return nil
end

local EXPECTS = { integer = "an integer", float = "a number", boolean = "true or false", string = "a string" }

-- Converts text to the flag's kind, or returns nil.
local function convert(kind, text)
  if kind == "integer" then
    return text:match("^[+-]?%d+$") and math.tointeger(tonumber(text)) or nil
  elseif kind == "float" then
    return tonumber(text)
  elseif kind == "boolean" then
    local t = text:lower()
    if t == "true" or t == "1" or t == "yes" or t == "on" then return true end
    if t == "false" or t == "0" or t == "no" or t == "off" then return false end
    return nil
  end
  return text
end

local function script_name()
  return (tostring(trainrt.script or arg and arg[0] or "script"):match("[^/]+$"))
end

local function fail(message) trainrt.exit(2, message) end

-- spec -> sorted list of {key, kind, default, help}
local function read_spec(spec)
  local flags = {}
  for key, value in pairs(spec) do
    if type(key) ~= "string" then error("trainrt.args: keys must be flag names, got " .. tostring(key), 3) end
    local default, help = value, nil
    if type(value) == "table" then default, help = value[1], value.help end
    local kind = kind_of(default)
    if not kind then
      error(("trainrt.args: default of %s must be a number, boolean or string, got %s"):format(key, type(default)), 3)
    end
    flags[#flags + 1] = { key = key, kind = kind, default = default, help = help }
  end
  table.sort(flags, function(a, b) return a.key < b.key end)
  return flags
end

-- The [train] section of trainrt.config overrides the table's defaults.
local function apply_config(flags, values)
  local section = type(trainrt.config) == "table" and trainrt.config.train
  if type(section) ~= "table" then return end
  for _, f in ipairs(flags) do
    local v = section[f.key]
    if v ~= nil then
      local kind = kind_of(v)
      if f.kind == "float" and kind == "integer" then v, kind = v + 0.0, "float" end
      if kind ~= f.kind then
        fail(("config train.%s expects %s, got %s"):format(f.key, EXPECTS[f.kind], tostring(v)))
      end
      values[f.key] = v
    end
  end
end

local function usage(flags, values)
  local lines = { ("usage: trainrt train [run options] %s [options]"):format(script_name()), "", "options:" }
  local function row(left, right) lines[#lines + 1] = ("  %-26s %s"):format(left, right) end
  for _, f in ipairs(flags) do
    local left = flag_name(f.key)
    if f.kind == "boolean" then left = ("%s, --no-%s"):format(left, f.key:gsub("_", "-"))
    else left = left .. " " .. (f.kind == "string" and "TEXT" or f.kind == "integer" and "N" or "X") end
    local right = ("(default: %s)"):format(tostring(values[f.key]))
    if f.help then right = f.help .. " " .. right end
    row(left, right)
  end
  row("--help", "show this message and exit")
  lines[#lines + 1] = ""
  lines[#lines + 1] = "run options (before or after the script):"
  for _, o in ipairs(trainrt.run_options or {}) do
    row(o.flag .. (o.metavar ~= "" and " " .. o.metavar or ""), o.help)
  end
  return table.concat(lines, "\n")
end

local function args(spec, argv)
  spec = spec or {}
  argv = argv or arg or {}
  local flags = read_spec(spec)
  local by_key, values, known = {}, {}, {}
  for _, f in ipairs(flags) do
    by_key[f.key] = f
    values[f.key] = f.default
    known[#known + 1] = flag_name(f.key)
  end
  apply_config(flags, values)

  local function unknown(flag)
    local list = #known > 0 and table.concat(known, ", ") or "none"
    fail(("unknown flag %s for %s (known: %s)"):format(flag, script_name(), list))
  end

  local positional = {}
  local i, only_words = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_words or (a:sub(1, 2) ~= "--" and a ~= "-h") then
      positional[#positional + 1] = a
    elseif a == "--" then
      only_words = true
    elseif a == "--help" or a == "-h" then
      io.stdout:write(usage(flags, values), "\n")
      trainrt.exit(0)
    else
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local key = key_of(name)
      local f = by_key[key]
      if not f and key:sub(1, 3) == "no_" and by_key[key:sub(4)] and by_key[key:sub(4)].kind == "boolean" then
        if inline then fail(("%s takes no value, got '%s'"):format(name, inline)) end
        values[key:sub(4)] = false
      elseif not f then
        unknown(name)
      elseif f.kind == "boolean" and not inline then
        values[key] = true
      else
        local text = inline
        if not text then
          text = argv[i + 1]
          if text == nil then fail(("%s expects %s, got nothing"):format(name, EXPECTS[f.kind])) end
          i = i + 1
        end
        local v = convert(f.kind, text)
        if v == nil then fail(("%s expects %s, got '%s'"):format(name, EXPECTS[f.kind], text)) end
        values[key] = v
      end
    end
    i = i + 1
  end
  for n, w in ipairs(positional) do values[n] = w end
  return values
end

return args
