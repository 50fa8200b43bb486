// trainrt.layer(name, {inputs...} [, {attrs...}]): runs a plugin-registered
// layer (ops/layer.cpp) on tensors from Lua. Attributes are numbers, passed to
// the plugin in order. Not here: the layer's math (the plugin's kernels).
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/ops/layer.h"

namespace trainrt::lua {
namespace {

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
  std::vector<double> attrs;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer m = luaL_len(L, 3);
    for (lua_Integer i = 1; i <= m; ++i) {
      lua_geti(L, 3, i);
      int ok = 0;
      double v = lua_tonumberx(L, -1, &ok);
      if (!ok) luaL_argerror(L, 3, "layer attributes must be numbers");
      attrs.push_back(v);
      lua_pop(L, 1);
    }
  }
  push_tensor(L, ops::layer(name, inputs, attrs));
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"layer", guarded<l_layer>},
    {nullptr, nullptr},
};

}  // namespace

void bind_layer(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
