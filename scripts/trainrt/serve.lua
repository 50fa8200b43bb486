-- trainrt.serve: the Lua half of `trainrt serve` (docs/serving.md). Loads a
-- model definition file and its weights and returns what the server calls:
-- forward(x) on a batch (N, ...) in eval mode under no_grad.
-- Not here: HTTP, batching, request validation (runtime/serve/, C++).
local trainrt = require "trainrt"
local checkpoint = require "trainrt.checkpoint"
local Module = require "trainrt.nn.Module"

local serve = {}

local function fail(message) error(message, 0) end

-- A model file returns a module, a function building one, or a table
-- {model = module or function, input_shape = {1, 28, 28}, prefix = "module."}.
-- Returns model, input_shape (or nil), prefix (or nil).
function serve.definition(path)
  local chunk, err = loadfile(path)
  if not chunk then fail(err) end
  local spec = chunk()
  if type(spec) == "function" then spec = { model = spec } end
  if Module.is_module(spec) then spec = { model = spec } end
  if type(spec) ~= "table" then
    fail(path .. ": must return an nn module, a function building one, or {model = ..., input_shape = {...}}; got " ..
      type(spec))
  end
  local model = spec.model or spec.build
  if type(model) == "function" then model = model() end
  if not Module.is_module(model) then
    fail(path .. ": the model (field 'model' or 'build') must be an nn module or a function returning one")
  end
  local shape = spec.input_shape
  if shape ~= nil then
    if type(shape) ~= "table" or #shape == 0 then fail(path .. ": input_shape must be a list of sizes such as {1, 28, 28}") end
    for i, n in ipairs(shape) do
      if math.type(n) ~= "integer" or n < 1 then
        fail(path .. ": input_shape[" .. i .. "] must be a positive integer, got " .. tostring(n))
      end
    end
  end
  if spec.prefix ~= nil and type(spec.prefix) ~= "string" then fail(path .. ": prefix must be a string") end
  return model, shape, spec.prefix
end

-- The prefix every tensor name in the file has, when it is one of the usual
-- wrappers' ("module." from DDP, "model." from a state dict saved as {model = ...}).
local function common_prefix(names)
  for _, prefix in ipairs({ "module.", "model." }) do
    local all = #names > 0
    for _, name in ipairs(names) do
      if name:sub(1, #prefix) ~= prefix then
        all = false
        break
      end
    end
    if all then return prefix end
  end
  return nil
end

-- load(model_path, checkpoint_path, is_dir) -> {forward, input_shape, parameters, checkpoint, prefix, model}.
-- is_dir: checkpoint_path is a checkpoint directory; its newest complete checkpoint is taken.
function serve.load(model_path, checkpoint_path, is_dir)
  local model, input_shape, prefix = serve.definition(model_path)
  local path = checkpoint_path
  if is_dir then
    path = checkpoint.latest(path)
    if not path then fail(checkpoint_path .. ": no complete checkpoint in this directory (train with --checkpoint-dir)") end
  end
  if not prefix then
    local _, _, names = checkpoint.read(path)
    prefix = common_prefix(names)
  end
  checkpoint.load(path, { model = model, prefix = prefix })
  local device = trainrt.device or "cpu"
  if not device:match("^cpu") then model:to(device) end
  model:eval()
  local dtype = "float32"
  for _, p in ipairs(model:parameters()) do
    dtype = p:dtype()
    break
  end

  -- x: (N, ...) float32 on the CPU -> the model's output (N, ...) as contiguous float32 on the CPU.
  local function forward(x)
    return trainrt.no_grad(function()
      if dtype ~= "float32" then x = x:to(dtype) end
      if not device:match("^cpu") then x = x:to(device) end
      local y = model(x)
      if not trainrt.is_tensor(y) then fail("the model returned a " .. type(y) .. ", expected a tensor") end
      return y:to("cpu"):float():contiguous()
    end)
  end
  return { forward = forward, input_shape = input_shape, parameters = model:num_parameters(), checkpoint = path,
           prefix = prefix, model = model }
end

return serve
