-- trainrt.data: datasets from loader plugins and the DataLoader (require
-- "trainrt.data", or trainrt.data). The heavy lifting is native
-- (runtime/data, bound as trainrt.core._data): plugin handles, batching,
-- seeded shuffling, distributed sharding and worker threads. This file turns
-- option tables into the loaders' "key=value;..." strings and knows where the
-- Debian package puts Fashion-MNIST. It deliberately runs no per-sample Lua.
--
--   local ds = data.fashion_mnist{split = "train"}        -- #ds == 60000
--   local x, y = ds:get(1)                                 -- (1, 28, 28) float32, int64 scalar
--   local loader = data.DataLoader(ds, {batch_size = 64, shuffle = true, seed = 0,
--                                       normalize = {mean = 0.2860, std = 0.3530}})
--   for x, y in loader do ... end                         -- x: (64, 1, 28, 28), y: (64); one epoch
local native = (require "trainrt.core")._data

local data = {}

-- Calls a native function and re-raises its error at the line of the script
-- that called the data.* function (not inside this file). Called through
-- pcall, the native error carries no position of its own.
local function at_caller(f, ...)
  local ok, result = pcall(f, ...)
  if not ok then error(tostring(result), 3) end
  return result
end

data.FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"

-- {images = "/a.gz", labels = "/b.gz"} -> "images=/a.gz;labels=/b.gz" (sorted keys).
local function options_string(options)
  if options == nil then return "" end
  if type(options) == "string" then return options end
  if type(options) ~= "table" then
    error("trainrt.data.dataset: options must be a table {key = value} or a string, got " .. type(options), 3)
  end
  local keys = {}
  for k in pairs(options) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = tostring(options[k])
    if v:find(";", 1, true) then
      error(string.format("trainrt.data.dataset: option %s=%q contains ';', which loader options cannot hold", k, v), 3)
    end
    parts[#parts + 1] = k .. "=" .. v
  end
  return table.concat(parts, ";")
end

-- data.dataset("idx", {images = ..., labels = ...}) -> Dataset (#ds, ds:get(i), ds:subset(...))
function data.dataset(loader_name, options)
  if type(loader_name) ~= "string" then
    error("trainrt.data.dataset: expected a loader name such as \"idx\" or \"csv\", got " .. type(loader_name), 2)
  end
  local handle = at_caller(native.open, loader_name, options_string(options))
  return handle
end

-- Names of the data loaders the loaded plugins provide, e.g. {"csv", "idx"}.
function data.loaders() return native.loaders() end

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- True when path is a folder that can be listed (io.open on a folder succeeds on Linux, but reading fails).
local function is_directory(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(0)
  f:close()
  return ok == nil and code == 21  -- EISDIR
end

-- The file `name`.gz in root, or `name` uncompressed, or nil.
local function find_file(root, name)
  for _, candidate in ipairs({ root .. "/" .. name .. ".gz", root .. "/" .. name }) do
    if readable(candidate) then return candidate end
  end
end

-- data.fashion_mnist{root = "/usr/share/datasets/fashion-mnist", split = "train" | "test"}
-- 60000 training or 10000 test images (1, 28, 28) with labels 0..9.
function data.fashion_mnist(options)
  options = options or {}
  if type(options) ~= "table" then error("trainrt.data.fashion_mnist: expected a table {root=, split=}", 2) end
  local root = tostring(options.root or data.FASHION_MNIST_ROOT)
  if #root > 1 then root = root:gsub("/+$", "") end
  local split = options.split or "train"
  local prefix = ({ train = "train", test = "t10k" })[split]
  if not prefix then
    error(string.format("trainrt.data.fashion_mnist: split must be \"train\" or \"test\", got %q", tostring(split)), 2)
  end
  local images = find_file(root, prefix .. "-images-idx3-ubyte")
  local labels = find_file(root, prefix .. "-labels-idx1-ubyte")
  if not images or not labels then
    local missing = (images and prefix .. "-labels-idx1-ubyte" or prefix .. "-images-idx3-ubyte") .. "(.gz)"
    local where = is_directory(root) and root or root .. " (no such folder)"
    error(("Fashion-MNIST file %s not found in %s: install the Debian package dataset-fashion-mnist " ..
           "(apt-get install dataset-fashion-mnist) or pass root= (--data in the examples)"):format(missing, where), 2)
  end
  local handle = at_caller(native.open, "idx", "images=" .. images .. ";labels=" .. labels)
  return handle
end

-- data.subset(ds, n) (the first n samples) or data.subset(ds, {i1, i2, ...}) (1-based).
function data.subset(dataset, n_or_indices)
  local handle = at_caller(dataset.subset, dataset, n_or_indices)
  return handle
end

-- data.DataLoader(ds, {batch_size = 64, shuffle = false, seed = <--seed>, drop_last = false,
--   workers = 0, prefetch_factor = 2, normalize = {mean = m, std = s},
--   num_replicas = 1, rank = 0, pad = true}) -> loader: `for x, y in loader do` runs one epoch,
-- #loader = batches per epoch, loader:set_epoch(e), loader:next(), loader:close(),
-- loader:options(), loader:dataset(). Sharded (num_replicas > 1) without drop_last,
-- pad = true repeats samples so every rank gets as many; pad = false gives each
-- sample to exactly one rank (evaluation). Strategies build these for you.
function data.DataLoader(dataset, options)
  local loader = at_caller(native.loader, dataset, options or {})
  return loader
end

-- True for a DataLoader (data.DataLoader's result).
function data.is_loader(x)
  local mt = type(x) == "userdata" and getmetatable(x)
  return type(mt) == "table" and mt.__name == "trainrt.data.DataLoader"
end

return data
