// trainrt.exit(code, message) as a Lua error value that the runner recognises:
// the script unwinds normally (C++ destructors, <close> variables) and the
// runner prints `message` and exits with `code` instead of showing a traceback.
#pragma once
#include <lua.hpp>

#include <string>

namespace trainrt::lua {

struct ExitRequest {
  int code = 0;
  std::string message;
};

// Raises the request as a Lua error (does not return).
int raise_exit_request(lua_State* L, int code, const std::string& message);
// True when the value at idx is an exit request; fills `out`.
bool to_exit_request(lua_State* L, int idx, ExitRequest& out);

}  // namespace trainrt::lua
