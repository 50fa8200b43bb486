// toml++ values as plain Lua values (trainrt.config): tables and arrays become
// tables, integers stay integers, dates and times become strings.
// Not here: loading or merging the config (config/config.h).
#pragma once
#include <lua.hpp>
#include <toml++/toml.h>

namespace trainrt::lua {

void push_toml(lua_State* L, const toml::node& node);

}  // namespace trainrt::lua
