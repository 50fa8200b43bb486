// toml++ -> Lua conversion for trainrt.config (see config_table.h).
#include "lua/config_table.h"

#include <sstream>

namespace trainrt::lua {

void push_toml(lua_State* L, const toml::node& node) {
  luaL_checkstack(L, 3, "config nested too deeply");
  if (const toml::table* t = node.as_table()) {
    lua_createtable(L, 0, static_cast<int>(t->size()));
    for (const auto& [key, value] : *t) {
      push_toml(L, value);
      lua_setfield(L, -2, std::string(key.str()).c_str());
    }
  } else if (const toml::array* a = node.as_array()) {
    lua_createtable(L, static_cast<int>(a->size()), 0);
    lua_Integer i = 1;
    for (const toml::node& value : *a) {
      push_toml(L, value);
      lua_seti(L, -2, i++);
    }
  } else if (auto s = node.as_string()) {
    lua_pushlstring(L, s->get().data(), s->get().size());
  } else if (auto i = node.as_integer()) {
    lua_pushinteger(L, static_cast<lua_Integer>(i->get()));
  } else if (auto f = node.as_floating_point()) {
    lua_pushnumber(L, f->get());
  } else if (auto b = node.as_boolean()) {
    lua_pushboolean(L, b->get());
  } else {  // date, time, date-time
    std::ostringstream out;
    node.visit([&](auto&& value) { out << value; });
    lua_pushstring(L, out.str().c_str());
  }
}

}  // namespace trainrt::lua
