// Text-only chunk loading for everything a script can reach (see source_loading.h).
#include "lua/source_loading.h"

#include <cstring>

#include "lua/lua_util.h"

namespace trainrt::lua {
namespace {

// Rewrites Lua's "attempt to load a binary chunk (mode is 't')" on top of the
// stack into one line naming `what`; other messages stay as they are.
void explain_binary_refusal(lua_State* L, const char* what) {
  const char* message = lua_tostring(L, -1);
  if (!message || !std::strstr(message, "attempt to load a binary chunk")) return;
  lua_pop(L, 1);
  lua_pushfstring(L,
                  "%s: is a precompiled Lua chunk (bytecode); trainrt loads only Lua source, because bytecode is "
                  "not verified and can crash the process; use the .lua file it was compiled from",
                  what);
}

// loadfile([filename [, mode [, env]]]): as Lua's, with mode always "t".
int source_loadfile(lua_State* L) {
  const char* path = luaL_optstring(L, 1, nullptr);
  const bool has_env = !lua_isnone(L, 3);
  if (load_source_file(L, path) != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, 3);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);  // the env becomes the chunk's _ENV
  }
  return 1;
}

int dofile_continuation(lua_State* L, int, lua_KContext) { return lua_gettop(L) - 1; }

// dofile([filename]): as Lua's (errors propagate, yields allowed), text only.
int source_dofile(lua_State* L) {
  const char* path = luaL_optstring(L, 1, nullptr);
  lua_settop(L, 1);
  if (load_source_file(L, path) != LUA_OK) return lua_error(L);
  lua_callk(L, 0, LUA_MULTRET, 0, dofile_continuation);
  return dofile_continuation(L, 0, 0);
}

// load(chunk [, chunkname [, mode [, env]]]): Lua's load (upvalue 1) with mode "t".
int source_load(lua_State* L) {
  const int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  if (n >= 2) lua_pushvalue(L, 2);
  else lua_pushnil(L);
  lua_pushliteral(L, "t");
  if (n >= 4) lua_pushvalue(L, 4);
  lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
  if (lua_gettop(L) - n == 2 && lua_isnil(L, -2)) explain_binary_refusal(L, "load");
  return lua_gettop(L) - n;
}

// package.searchers[2]: finds NAME on package.path (upvalue 1: the package
// table) and loads it as text; returns the "no file ..." list when absent.
int source_searcher(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  lua_getfield(L, lua_upvalueindex(1), "searchpath");
  lua_pushvalue(L, 1);
  lua_getfield(L, lua_upvalueindex(1), "path");
  if (!lua_isstring(L, -1)) return luaL_error(L, "'package.path' must be a string");
  lua_call(L, 2, 2);  // filename or fail, message
  if (lua_isnil(L, -2)) return 1;
  const char* filename = lua_tostring(L, -2);
  if (load_source_file(L, filename) == LUA_OK) {
    lua_pushstring(L, filename);  // the loader's second argument, as Lua's searcher passes it
    return 2;
  }
  const char* message = lua_tostring(L, -1);
  if (message && std::strstr(message, ": is a precompiled Lua chunk")) return luaL_error(L, "module '%s': %s", name, message);
  return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename, message ? message : "?");
}

}  // namespace

int load_source_file(lua_State* L, const char* path) {
  int status = luaL_loadfilex(L, path, "t");
  if (status != LUA_OK) explain_binary_refusal(L, path ? path : "stdin");
  return status;
}

void install_source_only_loaders(lua_State* L) {
  lua_pushcfunction(L, guarded<source_loadfile>);
  lua_setglobal(L, "loadfile");
  lua_pushcfunction(L, source_dofile);
  lua_setglobal(L, "dofile");
  lua_getglobal(L, "load");
  lua_pushcclosure(L, source_load, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, source_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

}  // namespace trainrt::lua
