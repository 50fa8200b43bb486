// lua_util.h: tensor userdata, argument checks and shape/dim conversion shared
// by every binding. Not here: the methods themselves (bind_tensor.cpp).
#include "lua/lua_util.h"

#include <cmath>
#include <new>

#include "lua/memory.h"
#include "trainrt/ops/creation.h"

namespace trainrt::lua {

void push_tensor(lua_State* L, const Tensor& t) {
  if (!t.defined()) {
    lua_pushnil(L);
    return;
  }
  new (lua_newuserdatauv(L, sizeof(Tensor), 0)) Tensor(t);
  luaL_setmetatable(L, kTensorMeta);
  pace_collector(L);
}

bool is_tensor(lua_State* L, int idx) { return luaL_testudata(L, idx, kTensorMeta) != nullptr; }

Tensor& check_tensor(lua_State* L, int idx) {
  auto* t = static_cast<Tensor*>(luaL_testudata(L, idx, kTensorMeta));
  if (!t) luaL_typeerror(L, idx, "tensor");
  if (!t->defined()) luaL_argerror(L, idx, "tensor was already freed (by :free() or a <close> variable)");
  return *t;
}

Tensor tensor_or_scalar(lua_State* L, int idx, const Tensor& like) {
  if (is_tensor(L, idx)) return check_tensor(L, idx);
  if (!lua_isnumber(L, idx)) luaL_typeerror(L, idx, "tensor or number");
  // Same promotion as ops' tensor-scalar overloads: a float number keeps a
  // float tensor's dtype and turns an integer tensor into float32.
  DType dtype = like.dtype();
  if (!is_floating(dtype) && !lua_isinteger(L, idx)) dtype = DType::Float32;
  if (dtype == DType::UInt8 && lua_isinteger(L, idx)) dtype = DType::Int64;
  if (dtype == DType::Int64) return exact_scalar(L, idx, like);
  return ops::full({}, lua_tonumber(L, idx), dtype, like.device());
}

Tensor exact_scalar(lua_State* L, int idx, const Tensor& like) {
  Tensor t = Tensor::empty({}, DType::Int64);
  *t.data<int64_t>() = static_cast<int64_t>(luaL_checkinteger(L, idx));
  return like.device() == Device::cpu() ? t : t.to(like.device());
}

namespace {
int64_t check_size_value(lua_State* L, int idx, int arg) {
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isnum);
  if (!isnum) luaL_argerror(L, arg, lua_pushfstring(L, "sizes must be integers, got %s", luaL_tolstring(L, idx, nullptr)));
  return v;
}
}  // namespace

Shape check_shape(lua_State* L, int idx) {
  Shape shape;
  if (lua_istable(L, idx) && !is_tensor(L, idx)) {
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_geti(L, idx, i);
      shape.push_back(check_size_value(L, -1, idx));
      lua_pop(L, 1);
    }
    return shape;
  }
  int top = lua_gettop(L);
  for (int i = idx; i <= top && lua_type(L, i) == LUA_TNUMBER; ++i) shape.push_back(check_size_value(L, i, i));
  return shape;
}

int64_t check_dim(lua_State* L, int idx, int64_t ndim) {
  int isnum = 0;
  lua_Integer d = lua_tointegerx(L, idx, &isnum);
  if (!isnum) luaL_typeerror(L, idx, "integer dim");
  int64_t n = ndim == 0 ? 1 : ndim;  // a scalar accepts dim 1 / -1 like PyTorch's 0 / -1
  if (d >= 1 && d <= n) return d - 1;
  if (d < 0 && -d <= n) return n + d;
  luaL_argerror(L, idx,
                lua_pushfstring(L, "dim %I out of range for a %I-d tensor (dims are 1..%I or -%I..-1; dim 0 does not exist)",
                                static_cast<lua_Integer>(d), static_cast<lua_Integer>(ndim),
                                static_cast<lua_Integer>(n), static_cast<lua_Integer>(n)));
  return 0;
}

void set_functions(lua_State* L, const luaL_Reg* functions) { luaL_setfuncs(L, functions, 0); }

}  // namespace trainrt::lua
