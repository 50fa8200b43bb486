-- trainrt.args{epochs = 50, batch_size = 64, lr = 1e-3}: the script's own
-- command-line flags, argparse-style. Each key is a flag (`batch_size` is
-- --batch-size or --batch_size) whose type comes from its default: integer,
-- number, boolean (--shuffle / --no-shuffle / --shuffle=false) or string.
-- A default may carry help text and simple constraints:
--   epochs     = {50, help = "passes over the data", min = 1},
--   lr         = {1e-3, positive = true},          -- > 0
--   dropout    = {0.1, min = 0, max = 1},          -- inclusive bounds
--   optimizer  = {"adam", choices = {"adam", "sgd"}},
--   max_time   = {60.0, finite = false},           -- number flags refuse nan always, and inf unless finite = false
-- Precedence: the table's default < trainrt.toml's [train] section (or
-- `--set train.epochs=5`) < the command line. Every value is checked (type,
-- then constraints) where it enters, and a bad one prints one line naming its
-- source and exits 2: "--batch-size must be at least 1, got 0", or
-- "trainrt.toml:4: error: train.lr must be positive, got -0.1". A key in
-- [train] that is not one of the flags is a warning ("did you mean ...?"), or
-- an error when trainrt.toml says `strict = true`. --help lists the flags and
-- the run options and exits 0; an unknown flag prints one line and exits 2.
-- Words that are not flags are returned in the array part.
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
local FIELDS = { help = true, min = true, max = true, positive = true, choices = true, finite = true }

-- A value as messages show it: strings quoted, nan spelled the same everywhere.
local function show(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  if v ~= v then return "nan" end
  return tostring(v)
end

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

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

-- What the flag's constraints require, as "at least 1" etc.; nil when v satisfies them.
local function violation(f, v)
  if f.kind == "float" then
    if v ~= v then return "must be a number" end
    if f.finite ~= false and (v == math.huge or v == -math.huge) then return "must be finite" end
  end
  if f.min ~= nil and v < f.min then return "must be at least " .. show(f.min) end
  if f.max ~= nil and v > f.max then return "must be at most " .. show(f.max) end
  if f.positive and not (v > 0) then return "must be positive" end
  if f.choices then
    for _, c in ipairs(f.choices) do
      if c == v then return nil end
    end
    local list = {}
    for _, c in ipairs(f.choices) do list[#list + 1] = tostring(c) end
    return "must be one of " .. table.concat(list, ", ")
  end
  return nil
end

-- The constraints for --help: "at least 1; at most 10".
local function constraint_text(f)
  local parts = {}
  if f.min ~= nil then parts[#parts + 1] = "at least " .. show(f.min) end
  if f.max ~= nil then parts[#parts + 1] = "at most " .. show(f.max) end
  if f.positive then parts[#parts + 1] = "positive" end
  if f.choices then
    local list = {}
    for _, c in ipairs(f.choices) do list[#list + 1] = tostring(c) end
    parts[#parts + 1] = "one of " .. table.concat(list, ", ")
  end
  return table.concat(parts, "; ")
end

-- Checks one spec entry's constraint fields (mistakes are the script's: error at its line).
local function check_fields(key, kind, value)
  for field in pairs(value) do
    if type(field) ~= "number" and not FIELDS[field] then
      error(("trainrt.args: unknown field '%s' for %s (known: %s)"):format(tostring(field), key,
        table.concat(sorted_keys(FIELDS), ", ")), 4)
    end
  end
  local numeric = kind == "integer" or kind == "float"
  for _, bound in ipairs({ "min", "max" }) do
    if value[bound] ~= nil and (not numeric or type(value[bound]) ~= "number") then
      error(("trainrt.args: %s of %s must be a number, for a number flag"):format(bound, key), 4)
    end
  end
  if value.positive ~= nil and (not numeric or type(value.positive) ~= "boolean") then
    error(("trainrt.args: positive of %s must be true or false, for a number flag"):format(key), 4)
  end
  if value.finite ~= nil and (kind ~= "float" or type(value.finite) ~= "boolean") then
    error(("trainrt.args: finite of %s must be true or false, for a float flag"):format(key), 4)
  end
  if value.choices ~= nil then
    if type(value.choices) ~= "table" or #value.choices == 0 then
      error(("trainrt.args: choices of %s must be a non-empty list"):format(key), 4)
    end
    for _, c in ipairs(value.choices) do
      if kind_of(c) ~= kind and not (kind == "float" and math.type(c) == "integer") then
        error(("trainrt.args: choices of %s must be %s values, got %s"):format(key, kind, show(c)), 4)
      end
    end
  end
end

-- spec -> sorted list of {key, kind, default, help, min, max, positive, choices, finite}
local function read_spec(spec)
  local flags = {}
  for key, value in pairs(spec) do
    if type(key) ~= "string" then error("trainrt.args: keys must be flag names, got " .. tostring(key), 3) end
    local entry = type(value) == "table" and value or { value }
    local kind = kind_of(entry[1])
    if not kind then
      error(("trainrt.args: default of %s must be a number, boolean or string, got %s"):format(key, type(entry[1])), 3)
    end
    check_fields(key, kind, entry)
    local f = { key = key, kind = kind, default = entry[1], help = entry.help, min = entry.min, max = entry.max,
                positive = entry.positive, choices = entry.choices, finite = entry.finite }
    local bad = violation(f, f.default)
    if bad then error(("trainrt.args: default of %s (%s) %s"):format(key, show(f.default), bad), 3) end
    flags[#flags + 1] = f
  end
  table.sort(flags, function(a, b) return a.key < b.key end)
  return flags
end

-- Edit distance, for "did you mean".
local function distance(a, b)
  local row = {}
  for j = 0, #b do row[j] = j end
  for i = 1, #a do
    local diagonal = row[0]
    row[0] = i
    for j = 1, #b do
      local above = row[j]
      row[j] = math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a:sub(i, i) == b:sub(j, j) and 0 or 1))
      diagonal = above
    end
  end
  return row[#b]
end

local function closest(word, flags)
  local best, best_d = nil, math.max(1, #word // 3) + 1
  for _, f in ipairs(flags) do
    local d = distance(word:lower(), f.key:lower())
    if d < best_d then best, best_d = f.key, d end
  end
  return best
end

-- Where [train].key came from: "trainrt.toml:4", "--set train.lr=0", or "config".
local function source_of(key)
  local sources = type(trainrt.config_sources) == "table" and trainrt.config_sources or {}
  return sources["train." .. key] or "config"
end

-- [train] keys that are none of the script's flags: a warning, or an error when strict.
local function check_unknown_keys(flags, by_key, section)
  local strict = type(trainrt.config) == "table" and trainrt.config.strict == true
  for _, key in ipairs(sorted_keys(section)) do
    if not by_key[key] then
      local hint = closest(key, flags)
      if hint then hint = ("did you mean '%s'?"):format(hint)
      else
        local names = {}
        for _, f in ipairs(flags) do names[#names + 1] = f.key end
        hint = "its flags: " .. (#names > 0 and table.concat(names, ", ") or "none")
      end
      local what = ("unknown key '%s' in [train]: %s has no flag %s (%s)"):format(key, script_name(), flag_name(key), hint)
      if strict then fail(("%s: error: %s; strict = true makes unknown keys errors"):format(source_of(key), what)) end
      io.stderr:write(("trainrt: warning: %s: %s\n"):format(source_of(key), what))
    end
  end
end

-- The [train] section of trainrt.config overrides the table's defaults.
local function apply_config(flags, by_key, values)
  local section = type(trainrt.config) == "table" and trainrt.config.train
  if type(section) ~= "table" then return end
  check_unknown_keys(flags, by_key, section)
  for _, f in ipairs(flags) do
    local v = section[f.key]
    if v ~= nil then
      local kind = kind_of(v)
      if f.kind == "float" and kind == "integer" then v, kind = v + 0.0, "float" end
      if kind ~= f.kind then
        fail(("%s: error: train.%s expects %s, got %s"):format(source_of(f.key), f.key, EXPECTS[f.kind], show(v)))
      end
      local bad = violation(f, v)
      if bad then fail(("%s: error: train.%s %s, got %s"):format(source_of(f.key), f.key, bad, show(v))) end
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
    local constraints = constraint_text(f)
    local right = ("(default: %s%s)"):format(tostring(values[f.key]), constraints ~= "" and "; " .. constraints or "")
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
  apply_config(flags, by_key, values)

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
        local bad = violation(f, v)
        if bad then fail(("%s %s, got %s"):format(name, bad, show(v))) end
        values[key] = v
      end
    end
    i = i + 1
  end
  for n, w in ipairs(positional) do values[n] = w end
  return values
end

return args
