// trainrt.config_sources (see config_sources.h).
#include "lua/config_sources.h"

#include <string>

#include "config/known_keys.h"

namespace trainrt::lua {
namespace {

// Adds table's values under `prefix` to the Lua table on top of the stack.
void add_sources(lua_State* L, const toml::table& table, const std::string& prefix) {
  for (const auto& [key, value] : table) {
    std::string path = prefix + std::string(key.str());
    if (const toml::table* t = value.as_table()) {
      add_sources(L, *t, path + ".");
      continue;
    }
    std::string source = config::source_of(value);
    if (source.empty()) continue;
    lua_pushlstring(L, source.data(), source.size());
    lua_setfield(L, -2, path.c_str());
  }
}

}  // namespace

void push_config_sources(lua_State* L, const toml::table& config) {
  lua_newtable(L);
  add_sources(L, config, "");
}

}  // namespace trainrt::lua
