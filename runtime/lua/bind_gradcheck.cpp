// trainrt.gradcheck(fn, inputs [, {eps=, atol=, rtol=, raise_exception=}]):
// the runtime's gradient checker (gradcheck.h) for functions written in Lua.
// Like torch.autograd.gradcheck: true when every gradient matches, else an
// error with the reason, or false, reason with raise_exception = false.
// Not here: the comparison itself (autograd/gradcheck.cpp).
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/gradcheck.h"

namespace trainrt::lua {
namespace {

double number_option(lua_State* L, int opts, const char* key) {
  double v = 0;
  if (lua_getfield(L, opts, key) != LUA_TNIL) {
    int ok = 0;
    v = lua_tonumberx(L, -1, &ok);
    if (!ok || !(v > 0)) luaL_error(L, "gradcheck: option %s must be a positive number", key);
  }
  lua_pop(L, 1);
  return v;
}

// Calls the Lua function at stack index `fn` with the inputs; its results
// (tensors, or one table of tensors) become the outputs.
std::vector<Tensor> call_lua(lua_State* L, int fn, const std::vector<Tensor>& inputs) {
  int base = lua_gettop(L);
  lua_pushvalue(L, fn);
  for (const Tensor& t : inputs) push_tensor(L, t);
  lua_call(L, static_cast<int>(inputs.size()), LUA_MULTRET);
  int n = lua_gettop(L) - base;
  std::vector<Tensor> outs;
  auto take = [&](int idx, const std::string& where) {
    if (is_tensor(L, idx)) outs.push_back(check_tensor(L, idx));
    else if (!lua_isnil(L, idx))
      luaL_error(L, "gradcheck: fn must return tensors, got a %s as %s", luaL_typename(L, idx), where.c_str());
  };
  if (n == 1 && lua_istable(L, base + 1) && !is_tensor(L, base + 1)) {
    lua_Integer m = luaL_len(L, base + 1);
    for (lua_Integer i = 1; i <= m; ++i) {
      lua_geti(L, base + 1, i);
      take(lua_gettop(L), "element " + std::to_string(i) + " of its result");
      lua_pop(L, 1);
    }
  } else {
    for (int i = 1; i <= n; ++i) take(base + i, "result " + std::to_string(i));
  }
  lua_settop(L, base);
  if (outs.empty()) luaL_error(L, "gradcheck: fn returned no tensor");
  return outs;
}

int l_gradcheck(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  std::vector<Tensor> inputs;
  if (is_tensor(L, 2)) {
    inputs.push_back(check_tensor(L, 2));
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_geti(L, 2, i);
      if (!is_tensor(L, -1)) luaL_error(L, "gradcheck: inputs[%d] is a %s, expected a tensor", static_cast<int>(i), luaL_typename(L, -1));
      inputs.push_back(check_tensor(L, lua_gettop(L)));
      lua_pop(L, 1);
    }
  }
  GradcheckOptions options;
  bool raise = true;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    options.eps = number_option(L, 3, "eps");
    options.atol = number_option(L, 3, "atol");
    options.rtol = number_option(L, 3, "rtol");
    if (lua_getfield(L, 3, "raise_exception") != LUA_TNIL) raise = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_settop(L, 3);
  GradcheckResult r = gradcheck([L](const std::vector<Tensor>& in) { return call_lua(L, 1, in); }, inputs, options);
  if (r.passed) {
    lua_pushboolean(L, 1);
    return 1;
  }
  std::string message = "gradcheck failed: " + r.message;
  if (raise) return luaL_error(L, "%s", message.c_str());
  lua_pushboolean(L, 0);
  lua_pushstring(L, message.c_str());
  return 2;
}

const luaL_Reg kFunctions[] = {
    {"gradcheck", guarded<l_gradcheck>},
    {nullptr, nullptr},
};

}  // namespace

void bind_gradcheck(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
