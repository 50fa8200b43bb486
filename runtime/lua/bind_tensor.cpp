// The Tensor metatable: methods, arithmetic metamethods, indexing, tostring and
// deterministic release (t:free(), `local x <close> = ...`). Dims and indices
// are 1-based as in docs/lua-api.md; each function only converts arguments and
// forwards to Tensor / trainrt::ops. Not here: tensor creation (bind_creation.cpp).
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/autograd.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"

namespace trainrt::lua {
namespace {

// Optional 1-based dims: nil -> {}, a number -> {d}, a table -> its entries.
std::vector<int64_t> opt_dims(lua_State* L, int idx, int64_t ndim) {
  std::vector<int64_t> dims;
  if (lua_isnoneornil(L, idx)) return dims;
  if (lua_istable(L, idx)) {
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_geti(L, idx, i);
      dims.push_back(check_dim(L, lua_gettop(L), ndim));
      lua_pop(L, 1);
    }
    return dims;
  }
  dims.push_back(check_dim(L, idx, ndim));
  return dims;
}

// Dims from a table or varargs starting at idx (permute).
std::vector<int64_t> check_dim_list(lua_State* L, int idx, int64_t ndim) {
  if (lua_istable(L, idx)) return opt_dims(L, idx, ndim);
  std::vector<int64_t> dims;
  for (int i = idx; i <= lua_gettop(L); ++i) dims.push_back(check_dim(L, i, ndim));
  return dims;
}

void push_dtype_or_device_result(lua_State* L, const Tensor& t, const std::string& target) {
  bool is_device = target.rfind("cpu", 0) == 0 || target.rfind("cuda", 0) == 0 || target.rfind("gpu", 0) == 0;
  push_tensor(L, is_device ? t.to(Device::parse(target)) : t.to(dtype_from_name(target)));
}

// ---- queries ---------------------------------------------------------------

int t_size(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    int64_t dim = check_dim(L, 2, t.dim());  // accepts 1 / -1 for a 0-d tensor, which has no size
    TRT_CHECK(t.dim() > 0, "size: a 0-d tensor has no dims; use size() or :item()");
    lua_pushinteger(L, t.sizes()[dim]);
    return 1;
  }
  lua_createtable(L, static_cast<int>(t.dim()), 0);
  for (int64_t i = 0; i < t.dim(); ++i) {
    lua_pushinteger(L, t.sizes()[i]);
    lua_seti(L, -2, i + 1);
  }
  return 1;
}
int t_dim(lua_State* L) { lua_pushinteger(L, check_tensor(L, 1).dim()); return 1; }
int t_numel(lua_State* L) { lua_pushinteger(L, check_tensor(L, 1).numel()); return 1; }
int t_len(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  TRT_CHECK(t.dim() > 0, "#: a 0-d tensor has no length; use :item()");
  lua_pushinteger(L, t.sizes()[0]);
  return 1;
}
int t_dtype(lua_State* L) { lua_pushstring(L, dtype_name(check_tensor(L, 1).dtype())); return 1; }
int t_device(lua_State* L) { lua_pushstring(L, check_tensor(L, 1).device().str().c_str()); return 1; }
int t_is_contiguous(lua_State* L) { lua_pushboolean(L, check_tensor(L, 1).is_contiguous()); return 1; }
// int64 values exactly (to_vector goes through double, which rounds beyond 2^53).
std::vector<int64_t> int64_values(const Tensor& t) {
  NoGradGuard no_grad;
  Tensor host = t.detach().to(Device::cpu()).contiguous();
  return std::vector<int64_t>(host.data<int64_t>(), host.data<int64_t>() + host.numel());
}

int t_item(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (t.dtype() == DType::Int64) {
    TRT_CHECK(t.numel() == 1, "item: tensor of shape ", t.shape_str(), " has ", t.numel(),
              " elements; item() needs exactly one");
    lua_pushinteger(L, int64_values(t)[0]);
    return 1;
  }
  double v = t.item();
  if (is_floating(t.dtype())) lua_pushnumber(L, v);
  else lua_pushinteger(L, static_cast<lua_Integer>(v));
  return 1;
}

// Nested tables of values[pos...] in row-major order; integral: Lua integers.
template <typename T>
void push_nested(lua_State* L, const std::vector<T>& values, const Shape& sizes, size_t dim, int64_t& pos,
                 bool integral) {
  if (dim == sizes.size()) {
    T v = values[pos++];
    if (integral) lua_pushinteger(L, static_cast<lua_Integer>(v));
    else lua_pushnumber(L, static_cast<lua_Number>(v));
    return;
  }
  lua_createtable(L, static_cast<int>(sizes[dim]), 0);
  for (int64_t i = 0; i < sizes[dim]; ++i) {
    push_nested(L, values, sizes, dim + 1, pos, integral);
    lua_seti(L, -2, i + 1);
  }
}
int t_tolist(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  int64_t pos = 0;
  luaL_checkstack(L, static_cast<int>(t.dim()) + 4, "tolist: tensor has too many dims");
  if (t.dtype() == DType::Int64) push_nested(L, int64_values(t), t.sizes(), 0, pos, true);
  else push_nested(L, t.to_vector(), t.sizes(), 0, pos, !is_floating(t.dtype()));
  return 1;
}
int t_tostring(lua_State* L) { lua_pushstring(L, check_tensor(L, 1).str().c_str()); return 1; }

// ---- arithmetic --------------------------------------------------------------

template <Tensor (*TT)(const Tensor&, const Tensor&), Tensor (*TS)(const Tensor&, double),
          Tensor (*ST)(const Tensor&, double)>
int arith(lua_State* L) {
  if (is_tensor(L, 1)) {
    Tensor& a = check_tensor(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER && is_floating(a.dtype())) push_tensor(L, TS(a, lua_tonumber(L, 2)));
    else push_tensor(L, TT(a, tensor_or_scalar(L, 2, a)));
  } else {  // number op tensor (metamethods only)
    Tensor& b = check_tensor(L, 2);
    if (is_floating(b.dtype())) push_tensor(L, ST(b, luaL_checknumber(L, 1)));
    else push_tensor(L, TT(tensor_or_scalar(L, 1, b), b));
  }
  return 1;
}
Tensor add_ts(const Tensor& t, double s) { return ops::add(t, s); }
Tensor sub_ts(const Tensor& t, double s) { return ops::sub(t, s); }
Tensor mul_ts(const Tensor& t, double s) { return ops::mul(t, s); }
Tensor div_ts(const Tensor& t, double s) { return ops::div(t, s); }
Tensor pow_ts(const Tensor& t, double s) { return ops::pow(t, s); }
Tensor rsub_ts(const Tensor& t, double s) { return ops::rsub(t, s); }
Tensor rdiv_ts(const Tensor& t, double s) { return ops::rdiv(t, s); }
Tensor rpow_ts(const Tensor& t, double s) { return ops::pow(ops::scalar_like(t, s), t); }
Tensor max_ts(const Tensor& t, double s) { return ops::maximum(t, ops::scalar_like(t, s)); }
Tensor add_tt(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor sub_tt(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor mul_tt(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor div_tt(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor pow_tt(const Tensor& a, const Tensor& b) { return ops::pow(a, b); }
Tensor max_tt(const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }

template <Tensor (*F)(const Tensor&, const Tensor&)>
int compare(lua_State* L) {
  Tensor& a = check_tensor(L, 1);
  push_tensor(L, F(a, tensor_or_scalar(L, 2, a)));
  return 1;
}

template <Tensor (*F)(const Tensor&)>
int unary(lua_State* L) {
  push_tensor(L, F(check_tensor(L, 1)));
  return 1;
}

int t_matmul(lua_State* L) {
  push_tensor(L, ops::matmul(check_tensor(L, 1), check_tensor(L, 2)));
  return 1;
}

// ---- reductions --------------------------------------------------------------

int t_sum(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_tensor(L, ops::sum(t, opt_dims(L, 2, t.dim()), lua_toboolean(L, 3)));
  return 1;
}
int t_mean(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_tensor(L, ops::mean(t, opt_dims(L, 2, t.dim()), lua_toboolean(L, 3)));
  return 1;
}
int t_var(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  bool unbiased = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  push_tensor(L, ops::var(t, opt_dims(L, 2, t.dim()), unbiased, lua_toboolean(L, 4)));
  return 1;
}
int t_max(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    push_tensor(L, ops::max(t));
    return 1;
  }
  int64_t dim = check_dim(L, 2, t.dim());
  bool keepdim = lua_toboolean(L, 3);
  push_tensor(L, ops::max(t, dim, keepdim));
  push_tensor(L, ops::argmax(t, dim, keepdim));
  return 2;
}
int t_argmax(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    push_tensor(L, ops::argmax(t.reshape({-1}), 0, false));
    return 1;
  }
  push_tensor(L, ops::argmax(t, check_dim(L, 2, t.dim()), lua_toboolean(L, 3)));
  return 1;
}

// ---- views and copies ----------------------------------------------------------

int t_view(lua_State* L) { push_tensor(L, check_tensor(L, 1).view(check_shape(L, 2))); return 1; }
int t_reshape(lua_State* L) { push_tensor(L, check_tensor(L, 1).reshape(check_shape(L, 2))); return 1; }
int t_expand(lua_State* L) { push_tensor(L, check_tensor(L, 1).expand(check_shape(L, 2))); return 1; }
int t_transpose(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.transpose(check_dim(L, 2, t.dim()), check_dim(L, 3, t.dim())));
  return 1;
}
int t_t(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  TRT_CHECK(t.dim() == 2, "t(): expects a 2-d tensor, got shape ", t.shape_str(), "; use transpose(d1, d2)");
  push_tensor(L, t.t());
  return 1;
}
int t_permute(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.permute(check_dim_list(L, 2, t.dim())));
  return 1;
}
int t_narrow(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  int64_t dim = check_dim(L, 2, t.dim());
  lua_Integer start = luaL_checkinteger(L, 3), length = luaL_checkinteger(L, 4);
  luaL_argcheck(L, start >= 1, 3, "start is 1-based");
  push_tensor(L, t.narrow(dim, start - 1, length));
  return 1;
}
int64_t check_index(lua_State* L, int idx, int64_t size) {
  lua_Integer i = luaL_checkinteger(L, idx);
  if (i >= 1 && i <= size) return i - 1;
  if (i < 0 && -i <= size) return size + i;
  luaL_argerror(L, idx, lua_pushfstring(L, "index %I out of range for a dim of size %I (indices are 1-based)", i,
                                        static_cast<lua_Integer>(size)));
  return 0;
}
int t_select(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  int64_t dim = check_dim(L, 2, t.dim());
  TRT_CHECK(t.dim() > 0, "select: a 0-d tensor has no dims; use :item()");
  push_tensor(L, t.select(dim, check_index(L, 3, t.sizes()[dim])));
  return 1;
}
int t_unsqueeze(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.unsqueeze(check_dim(L, 2, t.dim() + 1)));
  return 1;
}
int t_squeeze(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (lua_isnoneornil(L, 2)) {  // all size-1 dims
    Shape kept;
    for (int64_t s : t.sizes())
      if (s != 1) kept.push_back(s);
    push_tensor(L, t.reshape(kept));
    return 1;
  }
  push_tensor(L, t.squeeze(check_dim(L, 2, t.dim())));
  return 1;
}
int t_flatten(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  int64_t start = lua_isnoneornil(L, 2) ? 0 : check_dim(L, 2, t.dim());
  int64_t end = lua_isnoneornil(L, 3) ? -1 : check_dim(L, 3, t.dim());
  push_tensor(L, t.flatten(start, end));
  return 1;
}
int t_contiguous(lua_State* L) { push_tensor(L, check_tensor(L, 1).contiguous()); return 1; }
int t_clone(lua_State* L) { push_tensor(L, check_tensor(L, 1).clone()); return 1; }
template <DType D>
int t_as(lua_State* L) { push_tensor(L, check_tensor(L, 1).to(D)); return 1; }
int t_to(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  push_dtype_or_device_result(L, t, luaL_checkstring(L, 2));
  return 1;
}

// ---- autograd ----------------------------------------------------------------

int t_requires_grad(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (lua_isnone(L, 2)) {
    lua_pushboolean(L, t.requires_grad());
    return 1;
  }
  t.set_requires_grad(lua_toboolean(L, 2));
  lua_settop(L, 1);
  return 1;
}
int t_backward(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  Tensor grad = lua_isnoneornil(L, 2) ? Tensor() : check_tensor(L, 2);
  t.backward(grad, lua_toboolean(L, 3));
  return 0;
}
int t_grad(lua_State* L) { push_tensor(L, check_tensor(L, 1).grad()); return 1; }
int t_zero_grad(lua_State* L) { check_tensor(L, 1).zero_grad(); lua_settop(L, 1); return 1; }
// t:set_grad(g) makes g (same shape, dtype and device; not copied) t's .grad; t:set_grad(nil) drops it.
int t_set_grad(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    t.zero_grad();
  } else {
    Tensor& g = check_tensor(L, 2);
    TRT_CHECK(g.dtype() == t.dtype() && g.device() == t.device(), "set_grad: gradient is ", dtype_name(g.dtype()),
              " on ", g.device().str(), ", tensor ", dtype_name(t.dtype()), " on ", t.device().str());
    t.set_grad(g);
  }
  lua_settop(L, 1);
  return 1;
}
int t_detach(lua_State* L) { push_tensor(L, check_tensor(L, 1).detach()); return 1; }
int t_is_leaf(lua_State* L) { lua_pushboolean(L, check_tensor(L, 1).is_leaf()); return 1; }

// ---- in place (each returns self) ----------------------------------------------

int t_fill_(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  if (t.dtype() == DType::Int64 && lua_isinteger(L, 2)) ops::copy_(t, exact_scalar(L, 2, t));  // exact beyond 2^53
  else ops::fill_(t, luaL_checknumber(L, 2));
  lua_settop(L, 1);
  return 1;
}
int t_relu_(lua_State* L) { ops::relu_(check_tensor(L, 1)); lua_settop(L, 1); return 1; }
int t_zero_(lua_State* L) { ops::fill_(check_tensor(L, 1), 0.0); lua_settop(L, 1); return 1; }
int t_copy_(lua_State* L) {
  Tensor& dst = check_tensor(L, 1);
  ops::copy_(dst, tensor_or_scalar(L, 2, dst));
  lua_settop(L, 1);
  return 1;
}
int t_uniform_(lua_State* L) {
  ops::uniform_(check_tensor(L, 1), luaL_optnumber(L, 2, 0.0), luaL_optnumber(L, 3, 1.0));
  lua_settop(L, 1);
  return 1;
}
int t_normal_(lua_State* L) {
  ops::normal_(check_tensor(L, 1), luaL_optnumber(L, 2, 0.0), luaL_optnumber(L, 3, 1.0));
  lua_settop(L, 1);
  return 1;
}
int t_kaiming_uniform_(lua_State* L) {
  ops::kaiming_uniform_(check_tensor(L, 1), luaL_optnumber(L, 2, 2.23606797749979));
  lua_settop(L, 1);
  return 1;
}

// ---- lifetime ----------------------------------------------------------------

// Drops this userdata's reference to native storage now (the storage itself
// goes when its last view goes). Safe to call twice; later use is an error.
// t:free() releases the memory now: after the kernels queued on it have run
// (they hold it until then), so it is back in the allocator when free returns.
int t_free(lua_State* L) {
  auto* t = static_cast<Tensor*>(luaL_checkudata(L, 1, kTensorMeta));
  if (t->defined()) t->storage()->wait_ready();
  *t = Tensor();
  return 0;
}
// t:_release(wait): what nn containers call on an intermediate they made and
// no one else can reach (Sequential.lua decides that): drops this handle's
// reference like free(), so the storage goes as soon as its queued kernels
// have run, without waiting for Lua's collector. With `wait` (no_grad: the
// host would otherwise allocate every later layer's output before this one
// is back) and a storage of kReleaseWaitBytes or more that queued kernels
// still hold, the host first waits for them, so the block is in the
// allocator's cache for the next layer's output. Views of the storage and
// the autograd graph keep their own references: releasing never frees
// memory something else can still read.
constexpr size_t kReleaseWaitBytes = size_t{1} << 20;
int t_release(lua_State* L) {
  auto* t = static_cast<Tensor*>(luaL_checkudata(L, 1, kTensorMeta));
  if (!t->defined()) return 0;
  const StoragePtr& s = t->storage();
  if (lua_toboolean(L, 2) && s && s.use_count() > 1 && s->nbytes() >= kReleaseWaitBytes) s->wait_ready();
  *t = Tensor();
  return 0;
}
// Resets rather than destroys: a finalizer that runs later in the same cycle
// (Lua finalizes in reverse order of registration) may still reach this
// userdata, and must find a freed tensor. An empty Tensor owns nothing, so
// Lua releasing the block without a destructor leaks nothing.
int t_gc(lua_State* L) {
  auto* t = static_cast<Tensor*>(luaL_checkudata(L, 1, kTensorMeta));
  *t = Tensor();
  return 0;
}

// ---- indexing ----------------------------------------------------------------

// t[i] selects along dim 1 (1-based); t.name looks up a method.
int t_index(lua_State* L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    Tensor& t = check_tensor(L, 1);
    TRT_CHECK(t.dim() > 0, "indexing a 0-d tensor; use :item()");
    push_tensor(L, t.select(0, check_index(L, 2, t.sizes()[0])));
    return 1;
  }
  luaL_getmetatable(L, kTensorMeta);
  lua_getfield(L, -1, "__methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}
// t[i] = value copies value (tensor or number) into the i-th slice along dim 1.
int t_newindex(lua_State* L) {
  Tensor& t = check_tensor(L, 1);
  luaL_argcheck(L, lua_type(L, 2) == LUA_TNUMBER, 2, "tensors can only be assigned by integer index");
  TRT_CHECK(t.dim() > 0, "indexing a 0-d tensor; use :fill_()");
  Tensor slice = t.select(0, check_index(L, 2, t.sizes()[0]));
  ops::copy_(slice, tensor_or_scalar(L, 3, t));
  return 0;
}

const luaL_Reg kMethods[] = {
    {"size", guarded<t_size>},
    {"dim", guarded<t_dim>},
    {"numel", guarded<t_numel>},
    {"dtype", guarded<t_dtype>},
    {"device", guarded<t_device>},
    {"is_contiguous", guarded<t_is_contiguous>},
    {"item", guarded<t_item>},
    {"tolist", guarded<t_tolist>},
    {"add", guarded<arith<add_tt, add_ts, add_ts>>},
    {"sub", guarded<arith<sub_tt, sub_ts, rsub_ts>>},
    {"mul", guarded<arith<mul_tt, mul_ts, mul_ts>>},
    {"div", guarded<arith<div_tt, div_ts, rdiv_ts>>},
    {"pow", guarded<arith<pow_tt, pow_ts, rpow_ts>>},
    {"maximum", guarded<arith<max_tt, max_ts, max_ts>>},
    {"matmul", guarded<t_matmul>},
    {"neg", guarded<unary<ops::neg>>},
    {"exp", guarded<unary<ops::exp>>},
    {"log", guarded<unary<ops::log>>},
    {"sqrt", guarded<unary<ops::sqrt>>},
    {"abs", guarded<unary<ops::abs>>},
    {"relu", guarded<unary<ops::relu>>},
    {"sigmoid", guarded<unary<ops::sigmoid>>},
    {"tanh", guarded<unary<ops::tanh>>},
    {"eq", guarded<compare<ops::eq>>},
    {"ne", guarded<compare<ops::ne>>},
    {"lt", guarded<compare<ops::lt>>},
    {"le", guarded<compare<ops::le>>},
    {"gt", guarded<compare<ops::gt>>},
    {"ge", guarded<compare<ops::ge>>},
    {"sum", guarded<t_sum>},
    {"mean", guarded<t_mean>},
    {"var", guarded<t_var>},
    {"max", guarded<t_max>},
    {"argmax", guarded<t_argmax>},
    {"view", guarded<t_view>},
    {"reshape", guarded<t_reshape>},
    {"expand", guarded<t_expand>},
    {"transpose", guarded<t_transpose>},
    {"t", guarded<t_t>},
    {"permute", guarded<t_permute>},
    {"narrow", guarded<t_narrow>},
    {"select", guarded<t_select>},
    {"unsqueeze", guarded<t_unsqueeze>},
    {"squeeze", guarded<t_squeeze>},
    {"flatten", guarded<t_flatten>},
    {"contiguous", guarded<t_contiguous>},
    {"clone", guarded<t_clone>},
    {"float", guarded<t_as<DType::Float32>>},
    {"double", guarded<t_as<DType::Float64>>},
    {"long", guarded<t_as<DType::Int64>>},
    {"byte", guarded<t_as<DType::UInt8>>},
    {"to", guarded<t_to>},
    {"requires_grad", guarded<t_requires_grad>},
    {"backward", guarded<t_backward>},
    {"grad", guarded<t_grad>},
    {"zero_grad", guarded<t_zero_grad>},
    {"set_grad", guarded<t_set_grad>},
    {"detach", guarded<t_detach>},
    {"is_leaf", guarded<t_is_leaf>},
    {"fill_", guarded<t_fill_>},
    {"zero_", guarded<t_zero_>},
    {"relu_", guarded<t_relu_>},
    {"copy_", guarded<t_copy_>},
    {"uniform_", guarded<t_uniform_>},
    {"normal_", guarded<t_normal_>},
    {"kaiming_uniform_", guarded<t_kaiming_uniform_>},
    {"free", guarded<t_free>},
    {"_release", guarded<t_release>},
    {nullptr, nullptr},
};

const luaL_Reg kMetamethods[] = {
    {"__index", guarded<t_index>},
    {"__newindex", guarded<t_newindex>},
    {"__tostring", guarded<t_tostring>},
    {"__len", guarded<t_len>},
    {"__add", guarded<arith<add_tt, add_ts, add_ts>>},
    {"__sub", guarded<arith<sub_tt, sub_ts, rsub_ts>>},
    {"__mul", guarded<arith<mul_tt, mul_ts, mul_ts>>},
    {"__div", guarded<arith<div_tt, div_ts, rdiv_ts>>},
    {"__pow", guarded<arith<pow_tt, pow_ts, rpow_ts>>},
    {"__unm", guarded<unary<ops::neg>>},
    {"__close", guarded<t_free>},
    {"__gc", guarded<t_gc>},
    {nullptr, nullptr},
};

}  // namespace

void bind_tensor(lua_State* L) {
  luaL_newmetatable(L, kTensorMeta);
  set_functions(L, kMetamethods);
  lua_newtable(L);
  set_functions(L, kMethods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__methods");
  lua_setfield(L, -3, "Tensor");  // trainrt.Tensor = the method table (for extension from Lua)
  lua_pop(L, 1);
}

}  // namespace trainrt::lua
