// How a failed script is reported: one first line that always names where
// (the erroring frame's file:line, else the script), whatever the error value
// is (a string without position, nil, a table, an object with __tostring,
// Lua's own "not enough memory"), then a traceback. trainrt.exit() requests
// pass through untouched. Not here: loading the script (source_loading.h).
#pragma once
#include <lua.hpp>

#include <string>

namespace trainrt::lua {

// Pushes the message handler for lua_pcall; it keeps `script` (the path as
// given) to name when no Lua frame has a line.
void push_message_handler(lua_State* L, const std::string& script);

// Prints the failure on top of the stack (left by lua_pcall or a load with
// `status`) to stderr and returns the exit code: the trainrt.exit() code, else 1.
int report_script_failure(lua_State* L, int status, const std::string& script);

// True when `message` starts with a Lua position such as "train.lua:12: ".
bool has_lua_position(const std::string& message);

}  // namespace trainrt::lua
