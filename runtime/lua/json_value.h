// Lua values <-> JSON (nlohmann-json), for the structured state of checkpoints.
// Integers stay integers (int64, exact), floats keep every bit (shortest
// round-trip form; +-inf and NaN as {"$float": "inf" | "-inf" | "nan"}), a
// table with keys 1..n is an array, any other table an object (integer keys
// become decimal strings). Tensors, functions and other userdata are refused
// with the path of the value ("extra.fn"): the caller stores tensors apart.
#pragma once
#include <lua.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace trainrt::lua {

// The value at idx as JSON; `path` names it in errors. Throws Error.
nlohmann::json to_json(lua_State* L, int idx, const std::string& path);
// Pushes the Lua value of j (objects become tables with string keys; null pushes nil).
void push_json(lua_State* L, const nlohmann::json& j);

}  // namespace trainrt::lua
