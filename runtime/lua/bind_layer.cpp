// Plugin layers from Lua (ops/layer.cpp does the work):
//   trainrt.layer(name, {inputs...} [, attrs]) -> every output, in order
//   trainrt.layer_info(name [, device])        -> {inputs, outputs, params, attrs, flags...}
//   trainrt.layer_parameters(name, attrs [, device]) -> {{name = "gamma", tensor = t}, ...}
// attrs is a table of named values ({eps = 1e-5, features = 64}) for a layer
// that declares attributes, or a list of numbers for one that does not.
// Not here: the layer's math (the plugin's kernels), nn.PluginLayer (Lua).
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/ops/layer.h"

namespace trainrt::lua {
namespace {

// Reads the attribute table at idx (absent = no attributes).
ops::LayerAttrArgs check_attr_args(lua_State* L, int idx) {
  ops::LayerAttrArgs args;
  if (lua_isnoneornil(L, idx)) return args;
  luaL_checktype(L, idx, LUA_TTABLE);
  idx = lua_absindex(L, idx);
  lua_Integer n = luaL_len(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int ok = 0;
    double v = lua_tonumberx(L, -1, &ok);
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::string key = lua_tostring(L, -2);
      if (!ok) luaL_error(L, "layer attribute '%s' must be a number, got %s", key.c_str(), luaL_typename(L, -1));
      args.named[key] = v;
    } else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
      luaL_error(L, "layer attributes: keys must be names or positions 1..%d", static_cast<int>(n));
    } else if (!ok) {
      luaL_error(L, "layer attribute %d must be a number, got %s", static_cast<int>(lua_tointeger(L, -2)),
                 luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, idx, i);
    args.positional.push_back(lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  return args;
}

Device optional_device(lua_State* L, int idx) {
  return lua_isnoneornil(L, idx) ? Device::cpu() : Device::parse(luaL_checkstring(L, idx));
}

int l_layer(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<Tensor> inputs;
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, 2, i);
    inputs.push_back(check_tensor(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
  ops::LayerAttrArgs attr_args = check_attr_args(L, 3);
  if (inputs.empty()) luaL_error(L, "layer '%s': needs at least one input tensor", name.c_str());
  const trt_layer_def& def = ops::require_layer(name, inputs[0].device().type);
  std::vector<Tensor> outputs = ops::layer_outputs(name, inputs, ops::resolve_layer_attrs(def, attr_args));
  luaL_checkstack(L, static_cast<int>(outputs.size()), "too many layer outputs");
  for (const Tensor& t : outputs) push_tensor(L, t);
  return static_cast<int>(outputs.size());
}

int l_layer_info(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  const trt_layer_def& def = ops::require_layer(name, optional_device(L, 2).type);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, def.name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, def.n_inputs);
  lua_setfield(L, -2, "inputs");
  lua_pushinteger(L, ops::layer_output_count(def));
  lua_setfield(L, -2, "outputs");
  lua_pushinteger(L, def.n_params);
  lua_setfield(L, -2, "params");
  lua_pushboolean(L, def.backward != nullptr);
  lua_setfield(L, -2, "differentiable");
  lua_pushboolean(L, (def.flags & TRT_LAYER_STRIDED_INPUTS) != 0);
  lua_setfield(L, -2, "strided_inputs");
  lua_createtable(L, def.n_attrs, 0);
  for (int32_t i = 0; i < def.n_attrs; ++i) {
    const trt_layer_attr& a = def.attrs[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, a.name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, a.kind == TRT_ATTR_INT ? "int" : "float");
    lua_setfield(L, -2, "kind");
    lua_pushboolean(L, a.required != 0);
    lua_setfield(L, -2, "required");
    lua_pushnumber(L, a.default_value);
    lua_setfield(L, -2, "default");
    lua_seti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "attrs");
  return 1;
}

int l_layer_parameters(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  Device device = optional_device(L, 3);
  const trt_layer_def& def = ops::require_layer(name, device.type);
  auto params = ops::layer_parameters(name, ops::resolve_layer_attrs(def, check_attr_args(L, 2)), device);
  lua_createtable(L, static_cast<int>(params.size()), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, params[i].first.c_str());
    lua_setfield(L, -2, "name");
    push_tensor(L, params[i].second);
    lua_setfield(L, -2, "tensor");
    lua_seti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"layer", guarded<l_layer>},
    {"layer_info", guarded<l_layer_info>},
    {"layer_parameters", guarded<l_layer_parameters>},
    {nullptr, nullptr},
};

}  // namespace

void bind_layer(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
