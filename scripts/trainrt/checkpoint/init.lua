-- trainrt.checkpoint: training state in safetensors files (docs/checkpoints.md).
-- A checkpoint is NAME.safetensors (the model's tensors under PyTorch's names:
-- what safetensors.torch.load_file and model.load_state_dict take) plus
-- NAME.state-ID.safetensors beside it (optimizer moments and hyper-parameters,
-- scheduler, loader position, generators, progress, extra: tensors + JSON).
-- The state file is written first; renaming the model file into place, which
-- names its state file, is the commit. Loading checks everything first.
--   checkpoint.save(path, {model=, optimizer=, scheduler=, loader=, progress=, extra=})
--   local info = checkpoint.load(path, {model=, optimizer=, scheduler=, loader=})  -- info.extra, info.progress
--   checkpoint.read(path) / checkpoint.write(path, tensors, metadata): plain safetensors files
--   checkpoint.latest(dir), checkpoint.list(dir), checkpoint.Checkpointer{...} (periodic saves, resume)
local trainrt = require "trainrt"
local native = trainrt._checkpoint

local checkpoint = {}
checkpoint.VERSION = 1

-- "dir/name.safetensors" -> "dir", "name.safetensors"
local function split_path(path)
  local dir, base = path:match("^(.*)/([^/]*)$")
  if not dir then return ".", path end
  if dir == "" then dir = "/" end
  return dir, base
end
checkpoint._split_path = split_path

local function join(dir, name) return dir == "." and name or (dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name) end

local function fail(message) error(message, 0) end

-- Calls a native function; its error (already "path: what") is raised without a position.
local function call(f, ...)
  local ok, a, b = pcall(f, ...)
  if not ok then fail(tostring(a)) end
  return a, b
end

local function is_module(m) return type(m) == "table" and type(m.state_dict) == "function" and m.named_parameters end

-- The model's tensors in registration order as {{lua_name, tensor}, ...} (parameters, then buffers).
local function model_tensors(model)
  local out = {}
  for name, p in model:named_parameters() do out[#out + 1] = { name, p:detach() } end
  for name, b in model:named_buffers() do out[#out + 1] = { name, b:detach() } end
  return out
end

local function shape_str(t) return "(" .. table.concat(t:size(), ", ") .. ")" end
local function shape_of(list) return "(" .. table.concat(list, ", ") .. ")" end

-- The keys of t in a fixed order (numbers first, then strings), so that the
-- same state always gives the same file.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) ~= type(b) then return type(a) == "number" end
    return a < b
  end)
  return keys
end

-- Copies a value for JSON: tensors go to `tensors` under prefix-derived names
-- and become {["$tensor"] = name}.
local function pack(value, prefix, tensors)
  if trainrt.is_tensor(value) then
    tensors[#tensors + 1] = { prefix, value:detach() }
    return { ["$tensor"] = prefix }
  end
  if type(value) ~= "table" then return value end
  local out = {}
  for _, k in ipairs(sorted_keys(value)) do out[k] = pack(value[k], prefix .. "." .. tostring(k), tensors) end
  return out
end

-- The inverse of pack: {["$tensor"] = name} -> the loaded tensor.
local function unpack_refs(value, by_name, where)
  if type(value) ~= "table" then return value end
  local ref = value["$tensor"]
  if ref ~= nil then
    local t = by_name[ref]
    if t == nil then fail(where .. ": refers to tensor '" .. tostring(ref) .. "', which the file does not hold") end
    return t
  end
  local out = {}
  for k, v in pairs(value) do out[k] = unpack_refs(v, by_name, where) end
  return out
end

-- Optimizer:state_dict() in PyTorch's layout: state keyed "0", "1", ... and
-- param_groups[i].params 0-based; tensors named optimizer.state.<k>.<key>.
local function optimizer_for_file(optimizer, tensors)
  local sd = optimizer:state_dict()
  local groups = {}
  for gi, g in ipairs(sd.param_groups) do
    local copy = {}
    for key, v in pairs(g) do copy[key] = v end
    copy.params = {}
    for i, k in ipairs(g.params) do copy.params[i] = k - 1 end
    groups[gi] = copy
  end
  local state = {}
  for _, k in ipairs(sorted_keys(sd.state)) do
    state[tostring(k - 1)] = pack(sd.state[k], "optimizer.state." .. (k - 1), tensors)
  end
  return { class = optimizer.__name, param_groups = groups, state = state }
end

-- Which of the file's state files the model file at path names (nil when none or unreadable).
local function state_file_of(path)
  if native.kind(path) ~= "file" then return nil end
  local ok, header = pcall(native.header, path)
  if ok then return header.metadata["trainrt.state"] end
end

-- save(path, {model=, optimizer=, scheduler=, loader=, progress={epoch=, step=}, extra={...}}):
-- writes the model file and its state file atomically (a crash leaves the
-- previous checkpoint at path intact). extra holds numbers, strings,
-- booleans, tensors and tables of them. Returns path.
function checkpoint.save(path, opts)
  if type(path) ~= "string" or path == "" then error("checkpoint.save: expected a file path", 2) end
  opts = opts or {}
  if type(opts) ~= "table" then error("checkpoint.save: expected a table {model=, optimizer=, ...}", 2) end
  for key in pairs(opts) do
    if not ({ model = true, optimizer = true, scheduler = true, loader = true, progress = true, extra = true })[key] then
      error("checkpoint.save: unknown field '" .. tostring(key) .. "' (model, optimizer, scheduler, loader, progress, extra)", 2)
    end
  end
  if opts.model ~= nil and not is_module(opts.model) then error("checkpoint.save: model must be an nn.Module", 2) end
  local model_entries = {}
  if opts.model then
    for _, entry in ipairs(model_tensors(opts.model)) do
      model_entries[#model_entries + 1] = { call(native.file_name, entry[1]), entry[2] }
    end
  end
  local tensors = {}
  local state = { format = "trainrt-state", version = checkpoint.VERSION, trainrt = trainrt.version,
                  generators = native.generators(), progress = opts.progress }
  if opts.optimizer then state.optimizer = optimizer_for_file(opts.optimizer, tensors) end
  if opts.scheduler then state.scheduler = opts.scheduler:state_dict() end
  if opts.loader then state.loader = opts.loader:state_dict() end
  if opts.extra ~= nil then state.extra = pack(opts.extra, "extra", tensors) end

  local dir, base = split_path(path)
  local state_name = base:gsub("%.safetensors$", "") .. ".state-" .. native.new_id() .. ".safetensors"
  state.model_file = base
  local text = call(native.json_encode, state, "checkpoint state")
  local previous = state_file_of(path)
  call(native.write, join(dir, state_name), tensors, { format = "trainrt-state", ["trainrt.state"] = text })
  call(native.write, path, model_entries, { format = "pt", ["trainrt.state"] = state_name,
                                            ["trainrt.version"] = trainrt.version })
  if previous and previous ~= state_name and not previous:find("/", 1, true) then
    pcall(native.remove, join(dir, previous))
  end
  trainrt.metrics.checkpoint_saved()  -- trainrt_checkpoint_age_seconds (docs/monitoring.md)
  return path
end

-- The state of the checkpoint at path: (state table, tensors by name), or nil
-- when it has none. A missing state file is an error when `needed`, else a warning.
local function read_state(path, needed)
  local header = call(native.header, path)
  local name = header.metadata["trainrt.state"]
  if name == nil then return nil, {}, header end
  if name:find("/", 1, true) or name == "" then fail(path .. ": names a state file '" .. name .. "' outside its directory") end
  local dir = split_path(path)
  local state_path = join(dir, name)
  if native.kind(state_path) ~= "file" then
    local message = path .. ": its state file " .. name .. " is missing; copy the two files together"
    if needed then fail(message) end
    io.stderr:write("trainrt: warning: " .. message .. " (loading the weights only)\n")
    return nil, {}, header
  end
  local entries, metadata = call(native.read, state_path)
  if metadata.format ~= "trainrt-state" or type(metadata["trainrt.state"]) ~= "string" then
    fail(state_path .. ": not a trainrt state file (no trainrt.state metadata)")
  end
  local state = call(native.json_decode, metadata["trainrt.state"], state_path)
  if type(state) ~= "table" or state.format ~= "trainrt-state" then fail(state_path .. ": malformed trainrt.state metadata") end
  if math.type(state.version) ~= "integer" or state.version > checkpoint.VERSION then
    fail(state_path .. ": state format version " .. tostring(state.version) .. " is newer than this trainrt reads (" ..
      checkpoint.VERSION .. "); upgrade trainrt")
  end
  local by_name = {}
  for _, e in ipairs(entries) do by_name[e[1]] = e[2] end
  return unpack_refs(state, by_name, state_path), by_name, header, state_path
end

-- Matches file tensors against the model: one error listing every missing,
-- unexpected and mismatched name. Returns {{dst, src}, ...} to copy.
local function match_model(path, model, file_tensors, strict)
  local expected, order = {}, {}
  for _, entry in ipairs(model_tensors(model)) do
    local file_name = call(native.file_name, entry[1])
    expected[file_name] = entry[2]
    order[#order + 1] = file_name
  end
  local missing, unexpected, mismatched, copies = {}, {}, {}, {}
  for _, name in ipairs(order) do
    local src = file_tensors[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif shape_str(src) ~= shape_str(expected[name]) then
      mismatched[#mismatched + 1] = string.format("%s is %s in the file, %s in the model", name, shape_str(src),
        shape_str(expected[name]))
    else
      copies[#copies + 1] = { expected[name], src }
    end
  end
  for name in pairs(file_tensors) do
    if expected[name] == nil then unexpected[#unexpected + 1] = name end
  end
  table.sort(unexpected)
  local parts = {}
  if strict and #missing > 0 then parts[#parts + 1] = "missing keys: " .. table.concat(missing, ", ") end
  if strict and #unexpected > 0 then parts[#parts + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
  if #mismatched > 0 then parts[#parts + 1] = "size mismatch: " .. table.concat(mismatched, "; ") end
  if #parts > 0 then
    fail(path .. ": does not fit the model (names in the file count from 0, as in PyTorch): " ..
      table.concat(parts, "; "))
  end
  return copies
end

-- The optimizer's state dict from the file's layout, checked against optimizer.
local function optimizer_from_file(where, optimizer, saved)
  if type(saved) ~= "table" or type(saved.param_groups) ~= "table" then fail(where .. ": no optimizer state") end
  if saved.class ~= optimizer.__name then
    fail(string.format("%s: the checkpoint holds %s state, the optimizer is %s", where, tostring(saved.class),
      optimizer.__name))
  end
  if #saved.param_groups ~= #optimizer.param_groups then
    fail(string.format("%s: %d optimizer param groups in the checkpoint, %d in the optimizer", where,
      #saved.param_groups, #optimizer.param_groups))
  end
  local params, groups = {}, {}
  for gi, g in ipairs(saved.param_groups) do
    local mine = optimizer.param_groups[gi]
    if type(g.params) ~= "table" or #g.params ~= #mine.params then
      fail(string.format("%s: optimizer group %d has %d params in the checkpoint, %d in the optimizer", where, gi,
        type(g.params) == "table" and #g.params or 0, #mine.params))
    end
    local copy = {}
    for key, v in pairs(g) do
      if key ~= "params" and mine[key] ~= nil and type(v) ~= type(mine[key]) then
        fail(string.format("%s: optimizer group %d: %s is a %s in the checkpoint, a %s in the optimizer", where, gi,
          tostring(key), type(v), type(mine[key])))
      end
      copy[key] = v
    end
    copy.params = {}
    for i = 1, #g.params do
      params[#params + 1] = mine.params[i]
      copy.params[i] = #params
    end
    groups[gi] = copy
  end
  local state = {}
  for k, s in pairs(saved.state or {}) do
    local index = math.tointeger(tonumber(k))
    local p = index and params[index + 1]
    if p == nil then fail(string.format("%s: optimizer state for parameter %s, which the optimizer lacks", where, k)) end
    local copy = {}
    for key, v in pairs(s) do
      if trainrt.is_tensor(v) then
        if shape_str(v) ~= shape_str(p) then
          fail(string.format("%s: optimizer state %s of parameter %s is %s, the parameter %s", where, key, k,
            shape_str(v), shape_str(p)))
        end
        copy[key] = v:to(p:device())
      else
        copy[key] = v
      end
    end
    state[index + 1] = copy
  end
  return { state = state, param_groups = groups }
end

-- The integer fields `names` of t (what `what` is), or an error naming the first that is not.
local LOADER_FIELDS = { "epoch", "batch", "batch_size", "num_replicas", "seed", "samples" }
local function check_fields(where, what, t, names)
  if type(t) ~= "table" then fail(where .. ": has no " .. what) end
  for _, key in ipairs(names) do
    if math.type(t[key]) ~= "integer" then fail(string.format("%s: %s: %s must be an integer", where, what, key)) end
  end
end

-- A trainrt DataLoader's position (a loader of the script's own only needs a table).
local function check_loader(where, loader, saved)
  if not (require "trainrt.data").is_loader(loader) then
    if type(saved) ~= "table" then fail(where .. ": has no data loader position") end
    return
  end
  check_fields(where, "data loader position", saved, LOADER_FIELDS)
  if saved.batch < 0 or saved.batch_size < 1 or saved.num_replicas < 1 or saved.epoch < 0 then
    fail(where .. ": data loader position out of range (epoch, batch >= 0; batch_size, num_replicas >= 1)")
  end
end

local function check_scheduler(where, scheduler, saved)
  check_fields(where, "scheduler state", saved, { "last_epoch" })
  if type(saved.base_lrs) ~= "table" or #saved.base_lrs ~= #scheduler.optimizer.param_groups then
    fail(where .. ": the scheduler state has " .. (type(saved.base_lrs) == "table" and #saved.base_lrs or 0) ..
      " base_lrs for " .. #scheduler.optimizer.param_groups .. " param groups")
  end
end

local function check_generators(where, generators)
  check_fields(where, "generator state", generators, { "default_seed" })
  if type(generators.devices) ~= "table" then fail(where .. ": generator state: no devices list") end
  for i, g in ipairs(generators.devices) do
    check_fields(where, "generator " .. i, g, { "seed", "offset" })
    if type(g.device) ~= "string" or not g.device:match("^%a+:%d+$") then
      fail(string.format("%s: generator %d: device must be a name such as \"cpu:0\"", where, i))
    end
  end
end

-- load(path, {model=, optimizer=, scheduler=, loader=, strict = true, restore_rng=, prefix=}):
-- validates the files and everything against what it is asked to restore, then
-- restores it: parameters and buffers copied in place (identity kept),
-- optimizer, scheduler, loader position and, for a resume (restore_rng defaults
-- to true when optimizer, scheduler or loader is given), the random generators.
-- prefix ("module."): the model's tensors are the file's names that start with
-- it, without it; others are ignored. Returns {path=, progress = {epoch=, step=} or nil, extra = ...}.
function checkpoint.load(path, opts)
  if type(path) ~= "string" or path == "" then error("checkpoint.load: expected a file path", 2) end
  opts = opts or {}
  if opts.model ~= nil and not is_module(opts.model) then error("checkpoint.load: model must be an nn.Module", 2) end
  local wants_state = opts.optimizer or opts.scheduler or opts.loader
  local state, _, _, state_path = read_state(path, wants_state)
  if wants_state and state == nil then fail(path .. ": has no training state (a weights-only file); load it with {model=} only") end

  local copies
  if opts.model then
    local entries = call(native.read, path)
    local file_tensors, prefix = {}, opts.prefix  -- prefix: the model's names are under it in the file ("module.")
    for _, e in ipairs(entries) do
      if not prefix then
        file_tensors[e[1]] = e[2]
      elseif e[1]:sub(1, #prefix) == prefix then
        file_tensors[e[1]:sub(#prefix + 1)] = e[2]
      end
    end
    copies = match_model(path, opts.model, file_tensors, opts.strict ~= false)
  end
  local optimizer_sd = opts.optimizer and optimizer_from_file(state_path, opts.optimizer, state.optimizer)
  if opts.scheduler then check_scheduler(state_path, opts.scheduler, state.scheduler) end
  if opts.loader then check_loader(state_path, opts.loader, state.loader) end
  local restore_rng = opts.restore_rng
  if restore_rng == nil then restore_rng = wants_state and true or false end  -- a resume, not loading weights
  if state and restore_rng then check_generators(state_path, state.generators) end

  -- Everything checked: restore.
  if copies then
    trainrt.no_grad(function()
      for _, c in ipairs(copies) do c[1]:copy_(c[2]:to(c[1]:device())) end
    end)
  end
  if optimizer_sd then opts.optimizer:load_state_dict(optimizer_sd) end
  if opts.scheduler then opts.scheduler:load_state_dict(state.scheduler) end
  if opts.loader then
    local warning = opts.loader:load_state_dict(state.loader)
    if warning then io.stderr:write("trainrt: warning: " .. path .. ": " .. warning .. "\n") end
  end
  if state and restore_rng then call(native.set_generators, state.generators) end
  return { path = path, progress = state and state.progress, extra = state and state.extra }
end

-- read(path) -> {name = tensor}, metadata, names (in file order): any safetensors file, names as stored.
function checkpoint.read(path)
  local entries, metadata = call(native.read, path)
  local tensors, names = {}, {}
  for i, e in ipairs(entries) do
    tensors[e[1]] = e[2]
    names[i] = e[1]
  end
  return tensors, metadata, names
end

-- write(path, {name = tensor} or {{name, tensor}, ...}, metadata): a plain safetensors file, atomically.
function checkpoint.write(path, tensors, metadata)
  local entries = {}
  if #tensors > 0 then
    entries = tensors
  else
    local names = {}
    for name in pairs(tensors) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do entries[#entries + 1] = { name, tensors[name] } end
  end
  call(native.write, path, entries, metadata or {})
  return path
end

-- Names in files count from 0 (PyTorch), in Lua from 1: "1.weight" <-> "0.weight".
function checkpoint.file_name(lua_name) return call(native.file_name, lua_name) end
function checkpoint.lua_name(file_name) return call(native.lua_name, file_name) end

-- The checkpoints a Checkpointer wrote in dir, oldest first: {{path=, name=, step=, epoch=}, ...}.
function checkpoint.list(dir)
  local names = native.listdir(dir)
  local out = {}
  for _, name in ipairs(names or {}) do
    local step, epoch = name:match("^ckpt%-s(%d+)%-e(%d+)%.safetensors$")
    if step then out[#out + 1] = { path = join(dir, name), name = name, step = tonumber(step), epoch = tonumber(epoch) } end
  end
  table.sort(out, function(a, b)
    if a.step ~= b.step then return a.step < b.step end
    return a.epoch < b.epoch
  end)
  return out
end

-- Whether the checkpoint at path is whole: both files present with valid headers.
function checkpoint.complete(path)
  local ok, err = pcall(function()
    local name = native.header(path).metadata["trainrt.state"]
    if name then
      if name:find("/", 1, true) then error(path .. ": bad state file name", 0) end
      native.header(join(split_path(path), name))
    end
  end)
  return ok, not ok and tostring(err) or nil
end

-- The newest complete checkpoint in dir (a damaged newer one is skipped with a warning), or nil.
function checkpoint.latest(dir)
  local list = checkpoint.list(dir)
  for i = #list, 1, -1 do
    local ok, err = checkpoint.complete(list[i].path)
    if ok then return list[i].path, list[i] end
    io.stderr:write("trainrt: warning: skipping " .. list[i].path .. ": " .. tostring(err) .. "\n")
  end
  return nil
end

checkpoint.Checkpointer = require "trainrt.checkpoint.Checkpointer"

return checkpoint
