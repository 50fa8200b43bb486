// Where each value of trainrt.config came from, for Lua code that rejects a
// value (trainrt.args): a flat table {["train.epochs"] = "trainrt.toml:4",
// ["train.lr"] = "--set train.lr=nan", ...} set as trainrt.config_sources.
// Tables are walked, arrays are one value. Not here: the values (config_table.h).
#pragma once
#include <lua.hpp>
#include <toml++/toml.h>

namespace trainrt::lua {

void push_config_sources(lua_State* L, const toml::table& config);

}  // namespace trainrt::lua
