// Lua <-> JSON conversion; see json_value.h.
#include "lua/json_value.h"

#include <cmath>
#include <vector>

#include "trainrt/error.h"

namespace trainrt::lua {
namespace {

constexpr int kMaxDepth = 64;  // also ends a table that contains itself

nlohmann::json encode(lua_State* L, int idx, const std::string& path, int depth);

nlohmann::json encode_number(lua_State* L, int idx) {
  if (lua_isinteger(L, idx)) return static_cast<int64_t>(lua_tointeger(L, idx));
  double v = lua_tonumber(L, idx);
  if (std::isfinite(v)) return v;
  return {{"$float", std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"}};
}

nlohmann::json encode_table(lua_State* L, int idx, const std::string& path, int depth) {
  TRT_CHECK(depth < kMaxDepth, "checkpoint: ", path, " is nested more than ", kMaxDepth,
            " tables deep (does a table contain itself?)");
  luaL_checkstack(L, 4, "checkpoint: table nested too deeply");
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, idx));
  lua_Integer keys = 0;
  bool sequence = n > 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    ++keys;
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) sequence = false;
    lua_pop(L, 1);
  }
  if (sequence && keys == n) {
    nlohmann::json array = nlohmann::json::array();
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, i);
      array.push_back(encode(L, lua_gettop(L), path + "[" + std::to_string(i) + "]", depth + 1));
      lua_pop(L, 1);
    }
    return array;
  }
  nlohmann::json object = nlohmann::json::object();
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    std::string key;
    if (lua_type(L, -2) == LUA_TSTRING) key = lua_tostring(L, -2);
    else if (lua_isinteger(L, -2)) key = std::to_string(lua_tointeger(L, -2));
    else fail("checkpoint: " + path + " has a key of type " + luaL_typename(L, -2) + "; keys must be strings or integers");
    object[key] = encode(L, lua_gettop(L), path.empty() ? key : path + "." + key, depth + 1);
    lua_pop(L, 1);
  }
  return object;
}

nlohmann::json encode(lua_State* L, int idx, const std::string& path, int depth) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return static_cast<bool>(lua_toboolean(L, idx));
    case LUA_TNUMBER: return encode_number(L, idx);
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      return std::string(s, len);
    }
    case LUA_TTABLE: return encode_table(L, idx, path, depth);
    default:
      fail("checkpoint: " + path + " is a " + luaL_typename(L, idx) +
           "; a checkpoint stores numbers, strings, booleans, tables of them and tensors");
  }
}

}  // namespace

nlohmann::json to_json(lua_State* L, int idx, const std::string& path) {
  return encode(L, lua_absindex(L, idx), path, 0);
}

namespace {

void push(lua_State* L, const nlohmann::json& j, int depth) {
  TRT_CHECK(depth < kMaxDepth, "checkpoint: JSON nested more than ", kMaxDepth, " levels deep");
  luaL_checkstack(L, 4, "checkpoint: JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null: lua_pushnil(L); return;
    case nlohmann::json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); return;
    case nlohmann::json::value_t::number_integer: lua_pushinteger(L, j.get<int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned:  // the bits, as Lua integers are int64
      lua_pushinteger(L, static_cast<lua_Integer>(j.get<uint64_t>()));
      return;
    case nlohmann::json::value_t::number_float: lua_pushnumber(L, j.get<double>()); return;
    case nlohmann::json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      lua_Integer i = 1;
      for (const auto& v : j) {
        push(L, v, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      return;
    }
    case nlohmann::json::value_t::object: {
      if (j.size() == 1 && j.contains("$float") && j["$float"].is_string()) {
        const std::string& s = j["$float"].get_ref<const std::string&>();
        lua_pushnumber(L, s == "nan" ? NAN : s == "-inf" ? -HUGE_VAL : HUGE_VAL);
        return;
      }
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (auto it = j.begin(); it != j.end(); ++it) {
        lua_pushlstring(L, it.key().data(), it.key().size());
        push(L, it.value(), depth + 1);
        lua_rawset(L, -3);
      }
      return;
    }
    default: lua_pushnil(L); return;  // binary/discarded never come from our files
  }
}

}  // namespace

void push_json(lua_State* L, const nlohmann::json& j) { push(L, j, 0); }

}  // namespace trainrt::lua
