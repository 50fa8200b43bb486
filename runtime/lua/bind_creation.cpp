// Tensor creation from Lua: trainrt.tensor{...}, zeros/ones/empty/rand/randn,
// full, arange, *_like, manual_seed, is_tensor, cat (joins tensors). Options come as a trailing
// table {dtype=, device=, requires_grad=}. Not here: tensor methods (bind_tensor.cpp).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"
#include "trainrt/ops/join.h"

namespace trainrt::lua {
namespace {

struct CreateOptions {
  DType dtype = DType::Float32;
  bool dtype_given = false;
  Device device = Device::cpu();
  bool requires_grad = false;
};

// Reads {dtype=, device=, requires_grad=} from the table at idx (if any).
CreateOptions opt_options(lua_State* L, int idx) {
  CreateOptions o;
  if (idx == 0 || !lua_istable(L, idx)) return o;
  if (lua_getfield(L, idx, "dtype") != LUA_TNIL) {
    o.dtype = dtype_from_name(luaL_checkstring(L, -1));
    o.dtype_given = true;
  }
  if (lua_getfield(L, idx, "device") != LUA_TNIL) o.device = Device::parse(luaL_checkstring(L, -1));
  lua_getfield(L, idx, "requires_grad");
  o.requires_grad = lua_toboolean(L, -1);
  lua_pop(L, 3);
  return o;
}

// Index of a trailing options table after the shape arguments, or 0.
int trailing_options(lua_State* L, int first) {
  int top = lua_gettop(L);
  if (top < first || !lua_istable(L, top)) return 0;
  if (top == first) {  // one table: a shape {2, 3} or options
    lua_geti(L, top, 1);
    bool is_shape = lua_type(L, -1) == LUA_TNUMBER;
    lua_pop(L, 1);
    return is_shape || luaL_len(L, top) > 0 ? 0 : top;
  }
  return top;
}

void push_created(lua_State* L, Tensor t, const CreateOptions& o) {
  if (o.requires_grad) t.set_requires_grad(true);
  push_tensor(L, t);
}

template <Tensor (*Make)(const Shape&, const CreateOptions&)>
int create(lua_State* L) {
  int opts = trailing_options(L, 1);
  CreateOptions o = opt_options(L, opts);
  Shape shape = check_shape(L, 1);
  push_created(L, Make(shape, o), o);
  return 1;
}
Tensor make_zeros(const Shape& s, const CreateOptions& o) { return ops::zeros(s, o.dtype, o.device); }
Tensor make_ones(const Shape& s, const CreateOptions& o) { return ops::ones(s, o.dtype, o.device); }
Tensor make_empty(const Shape& s, const CreateOptions& o) { return Tensor::empty(s, o.dtype, o.device); }
Tensor make_rand(const Shape& s, const CreateOptions& o) { return ops::rand(s, 0, 1, o.dtype, o.device); }
Tensor make_randn(const Shape& s, const CreateOptions& o) { return ops::randn(s, 0, 1, o.dtype, o.device); }

int l_full(lua_State* L) {
  Shape shape = check_shape(L, 1);
  double value = luaL_checknumber(L, 2);
  CreateOptions o = opt_options(L, lua_istable(L, 3) ? 3 : 0);
  if (!o.dtype_given && lua_isinteger(L, 2)) o.dtype = DType::Int64;
  if (o.dtype == DType::Int64 && lua_isinteger(L, 2)) {  // exact: a double rounds integers beyond 2^53
    Tensor t = Tensor::empty(shape, o.dtype, o.device);
    if (t.numel()) ops::copy_(t, exact_scalar(L, 2, t));
    push_created(L, t, o);
    return 1;
  }
  push_created(L, ops::full(shape, value, o.dtype, o.device), o);
  return 1;
}

// arange(stop) | arange(start, stop [, step]) [, opts]; integers give int64 like PyTorch.
int l_arange(lua_State* L) {
  int nums = 0;
  bool all_integers = true;
  double v[3] = {0, 0, 1};
  for (int i = 1; i <= 3 && lua_type(L, i) == LUA_TNUMBER; ++i) {
    v[nums++] = lua_tonumber(L, i);
    all_integers = all_integers && lua_isinteger(L, i);
  }
  luaL_argcheck(L, nums >= 1, 1, "arange expects (stop) or (start, stop [, step])");
  double start = nums == 1 ? 0 : v[0], stop = nums == 1 ? v[0] : v[1], step = nums == 3 ? v[2] : 1;
  CreateOptions o = opt_options(L, lua_istable(L, nums + 1) ? nums + 1 : 0);
  if (!o.dtype_given && all_integers) o.dtype = DType::Int64;
  push_created(L, ops::arange(start, stop, step, o.dtype, o.device), o);
  return 1;
}

// Walks a nested table: fills `shape` from the first path, checks every row
// agrees. `integers` keeps the exact values while every number is a Lua integer.
void read_nested(lua_State* L, int idx, size_t depth, Shape& shape, std::vector<double>& values,
                 std::vector<int64_t>& integers, bool& all_integers) {
  int type = lua_type(L, idx);
  if (type == LUA_TNUMBER || type == LUA_TBOOLEAN) {
    TRT_CHECK(depth == shape.size(), "tensor: a number where a table of size ", depth < shape.size() ? shape[depth] : 0,
              " was expected (rows must have equal lengths)");
    if (type == LUA_TBOOLEAN) {
      values.push_back(lua_toboolean(L, idx));
      integers.push_back(lua_toboolean(L, idx));
    } else {
      all_integers = all_integers && lua_isinteger(L, idx);
      values.push_back(lua_tonumber(L, idx));
      if (all_integers) integers.push_back(lua_tointeger(L, idx));
    }
    return;
  }
  TRT_CHECK(type == LUA_TTABLE, "tensor: expected numbers or nested tables of numbers, got ", lua_typename(L, type));
  int64_t n = static_cast<int64_t>(luaL_len(L, idx));
  if (depth == shape.size() && values.empty()) shape.resize(depth + 1, n);
  TRT_CHECK(depth < shape.size() && shape[depth] == n, "tensor: rows must have equal lengths; got a row of ", n,
            " where ", depth < shape.size() ? shape[depth] : 0, " was expected at depth ", depth + 1);
  luaL_checkstack(L, 2, "tensor: table nested too deeply");
  for (int64_t i = 1; i <= n; ++i) {
    lua_geti(L, idx, i);
    read_nested(L, lua_gettop(L), depth + 1, shape, values, integers, all_integers);
    lua_pop(L, 1);
  }
}

int l_tensor(lua_State* L) {
  CreateOptions o = opt_options(L, lua_istable(L, 2) ? 2 : 0);
  if (is_tensor(L, 1)) {  // trainrt.tensor(t): a copy, like torch.tensor(t)
    Tensor src = check_tensor(L, 1).detach();
    push_created(L, src.to(o.dtype_given ? o.dtype : src.dtype()).clone(), o);
    return 1;
  }
  Shape shape;
  std::vector<double> values;
  std::vector<int64_t> integers;
  bool all_integers = true;
  read_nested(L, 1, 0, shape, values, integers, all_integers);
  if (!o.dtype_given) {
    o.dtype = all_integers && !values.empty() ? DType::Int64 : DType::Float32;
    if (lua_type(L, 1) == LUA_TBOOLEAN) o.dtype = DType::UInt8;
  }
  Tensor t;
  if (o.dtype == DType::Int64 && all_integers) {  // exact: through double, integers beyond 2^53 would round
    t = Tensor::empty(shape, DType::Int64);
    std::copy(integers.begin(), integers.end(), t.data<int64_t>());
  } else {
    t = Tensor::from_vector(values, shape, o.dtype);
  }
  push_created(L, o.device == Device::cpu() ? t : t.to(o.device), o);
  return 1;
}

template <Tensor (*Make)(const Tensor&)>
int like(lua_State* L) {
  push_tensor(L, Make(check_tensor(L, 1)));
  return 1;
}
Tensor randn_like(const Tensor& t) { return ops::randn(t.sizes(), 0, 1, t.dtype(), t.device()); }
Tensor rand_like(const Tensor& t) { return ops::rand(t.sizes(), 0, 1, t.dtype(), t.device()); }

int l_manual_seed(lua_State* L) {
  lua_Integer seed = luaL_checkinteger(L, 1);
  manual_seed(static_cast<uint64_t>(seed));
  return 0;
}
int l_is_tensor(lua_State* L) {
  lua_pushboolean(L, is_tensor(L, 1));
  return 1;
}
// trainrt.cat({t1, t2, ...} [, dim]): dim is 1-based (default 1), negative from the end.
int l_cat(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1, 1, "cat expects a non-empty list of tensors");
  std::vector<Tensor> tensors;
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, 1, i);
    if (!is_tensor(L, -1))
      return luaL_argerror(L, 1, lua_pushfstring(L, "element %I of the list is a %s, expected a tensor", i,
                                                  luaL_typename(L, -1)));
    tensors.push_back(check_tensor(L, -1));
    lua_pop(L, 1);
  }
  int64_t dim = lua_isnoneornil(L, 2) ? 0 : check_dim(L, 2, tensors[0].dim());
  push_tensor(L, ops::cat(tensors, dim));
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"tensor", guarded<l_tensor>},
    {"zeros", guarded<create<make_zeros>>},
    {"ones", guarded<create<make_ones>>},
    {"empty", guarded<create<make_empty>>},
    {"rand", guarded<create<make_rand>>},
    {"randn", guarded<create<make_randn>>},
    {"full", guarded<l_full>},
    {"arange", guarded<l_arange>},
    {"zeros_like", guarded<like<ops::zeros_like>>},
    {"ones_like", guarded<like<ops::ones_like>>},
    {"rand_like", guarded<like<rand_like>>},
    {"randn_like", guarded<like<randn_like>>},
    {"manual_seed", guarded<l_manual_seed>},
    {"is_tensor", guarded<l_is_tensor>},
    {"cat", guarded<l_cat>},
    {nullptr, nullptr},
};

}  // namespace

void bind_creation(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
