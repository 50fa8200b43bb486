// Grad mode from Lua: trainrt.no_grad(fn, ...) runs fn with recording off and
// returns its results; the C++ guard restores the mode even when fn raises
// (Lua errors unwind as C++ exceptions here). Also grad_enabled()/set_grad_enabled(b).
// Autocast (trainrt/autocast.h) the same way: trainrt.autocast("bf16", fn, ...)
// and trainrt.precision() -> "fp32" or "bf16".
// Not here: backward (a tensor method, bind_tensor.cpp).
#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/autocast.h"
#include "trainrt/autograd.h"

namespace trainrt::lua {
namespace {

int l_no_grad(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  NoGradGuard guard;
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);  // fn and its args are replaced by its results
  return lua_gettop(L);
}

int l_grad_enabled(lua_State* L) {
  lua_pushboolean(L, grad_enabled());
  return 1;
}

int l_set_grad_enabled(lua_State* L) {
  luaL_checkany(L, 1);
  set_grad_enabled(lua_toboolean(L, 1));
  return 0;
}

int l_autocast(lua_State* L) {
  Precision p = parse_precision(luaL_checkstring(L, 1));
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_remove(L, 1);
  PrecisionGuard guard(p);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

int l_precision(lua_State* L) {
  lua_pushstring(L, precision_name(autocast_precision()));
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"autocast", guarded<l_autocast>},
    {"precision", guarded<l_precision>},
    {"no_grad", guarded<l_no_grad>},
    {"grad_enabled", guarded<l_grad_enabled>},
    {"set_grad_enabled", guarded<l_set_grad_enabled>},
    {nullptr, nullptr},
};

}  // namespace

void bind_autograd(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
