// Exit requests as Lua error values (see exit_request.h).
#include "lua/exit_request.h"

#include "lua/lua_util.h"

namespace trainrt::lua {
namespace {
constexpr const char* kExitMeta = "trainrt.ExitRequest";

// What a pcall that catches the request would print.
int exit_request_tostring(lua_State* L) {
  lua_getfield(L, 1, "code");
  lua_pushfstring(L, "trainrt.exit(%d) request", static_cast<int>(lua_tointeger(L, -1)));
  return 1;
}
}  // namespace

int raise_exit_request(lua_State* L, int code, const std::string& message) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "code");
  lua_pushlstring(L, message.data(), message.size());
  lua_setfield(L, -2, "message");
  if (luaL_newmetatable(L, kExitMeta)) {
    lua_pushcfunction(L, guarded<exit_request_tostring>);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  return lua_error(L);
}

bool to_exit_request(lua_State* L, int idx, ExitRequest& out) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return false;
  luaL_getmetatable(L, kExitMeta);
  bool is_request = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!is_request) return false;
  lua_getfield(L, idx, "code");
  out.code = static_cast<int>(lua_tointeger(L, -1));
  lua_getfield(L, idx, "message");
  out.message = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 2);
  return true;
}

}  // namespace trainrt::lua
