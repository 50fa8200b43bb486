// The thin helper every Lua binding goes through (Torch7's luaT, for trainrt):
// tensor userdata push/check, shape parsing, and the guard that turns C++
// exceptions into Lua errors after destructors ran. Lua is Debian's
// liblua5.4-c++ (Lua compiled as C++), so lua_error unwinds with a C++
// exception too and never longjmps over a destructor.
#pragma once
#include <lua.hpp>

#include <exception>
#include <string>

#include "trainrt/tensor.h"

namespace trainrt::lua {

inline constexpr const char* kTensorMeta = "trainrt.Tensor";

// Pushes a new userdata holding `t` (a refcount on its storage) and tells the
// collector how many native bytes it keeps alive (see memory.cpp).
void push_tensor(lua_State* L, const Tensor& t);
// The tensor at stack index idx, or a Lua error "bad argument #idx (tensor expected, got X)".
Tensor& check_tensor(lua_State* L, int idx);
bool is_tensor(lua_State* L, int idx);
// Tensor at idx, or a number at idx turned into a 0-dim tensor like `like`.
Tensor tensor_or_scalar(lua_State* L, int idx, const Tensor& like);
// The Lua integer at idx as a 0-dim int64 tensor on like's device, exactly
// (a double holds integers exactly only up to 2^53).
Tensor exact_scalar(lua_State* L, int idx, const Tensor& like);
// Shape from a table {2, 3} or from integer varargs starting at idx.
Shape check_shape(lua_State* L, int idx);
// Lua dims are 1-based (Torch7); negative dims count from the end. Returns 0-based.
int64_t check_dim(lua_State* L, int idx, int64_t ndim);

// Wraps F so that any std::exception becomes a Lua error with its message.
template <int (*F)(lua_State*)>
int guarded(lua_State* L) {
  std::string message;
  try {
    return F(L);
  } catch (const std::exception& e) {
    message = e.what();
  }
  return luaL_error(L, "%s", message.c_str());
}

// Adds functions to the table on top of the stack (like luaL_setfuncs).
void set_functions(lua_State* L, const luaL_Reg* functions);

}  // namespace trainrt::lua
