// Script failure messages (see script_errors.h).
#include "lua/script_errors.h"

#include <cctype>
#include <cstdio>

#include "lua/exit_request.h"
#include "lua/lua_util.h"

namespace trainrt::lua {
namespace {

// The error value at idx as text: a string, its __tostring, or what it is.
std::string describe(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER) return lua_tostring(L, idx);
  if (luaL_callmeta(L, idx, "__tostring")) {
    std::string text = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(__tostring did not return a string)";
    lua_pop(L, 1);
    return text;
  }
  return std::string("(error object is a ") + luaL_typename(L, idx) + " value)";
}

// "file:line: " of the innermost Lua function still on the stack, or "".
std::string innermost_position(lua_State* L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline > 0) return std::string(ar.short_src) + ":" + std::to_string(ar.currentline) + ": ";
  }
  return "";
}

int message_handler(lua_State* L) {
  ExitRequest request;
  if (to_exit_request(L, 1, request)) return 1;
  std::string message = describe(L, 1);
  if (!has_lua_position(message)) {
    std::string where = innermost_position(L);
    message = (where.empty() ? std::string(lua_tostring(L, lua_upvalueindex(1))) + ": " : where) + message;
  }
  luaL_traceback(L, L, message.c_str(), 1);
  return 1;
}

}  // namespace

bool has_lua_position(const std::string& message) {
  size_t colon = message.find(':');
  if (colon == 0 || colon == std::string::npos || message.find('\n') < colon) return false;
  size_t digits = colon + 1;
  while (digits < message.size() && std::isdigit(static_cast<unsigned char>(message[digits]))) ++digits;
  return digits > colon + 1 && message.compare(digits, 2, ": ") == 0;
}

void push_message_handler(lua_State* L, const std::string& script) {
  lua_pushlstring(L, script.data(), script.size());
  lua_pushcclosure(L, guarded<message_handler>, 1);
}

int report_script_failure(lua_State* L, int status, const std::string& script) {
  ExitRequest request;
  if (to_exit_request(L, -1, request)) {
    if (!request.message.empty()) std::fprintf(stderr, "%s\n", request.message.c_str());
    return request.code;
  }
  if (status == LUA_ERRMEM) {  // raised without the message handler: no frame is left to name
    std::fprintf(stderr,
                 "trainrt: %s: not enough memory (a Lua allocation failed; free tensors and tables the script no "
                 "longer needs, or give the process more memory)\n",
                 script.c_str());
    return 1;
  }
  // Outside any pcall now: no metamethod may run (the handler already turned values into text).
  std::string message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                       : std::string("(error object is a ") + luaL_typename(L, -1) + " value)";
  if (!has_lua_position(message) && message.rfind(script + ": ", 0) != 0) message = script + ": " + message;
  std::fprintf(stderr, "trainrt: %s\n", message.c_str());
  return 1;
}

}  // namespace trainrt::lua
