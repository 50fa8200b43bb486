// trainrt.F: the functional ops of docs/lua-api.md (activations, linear,
// conv/pool, softmax family, losses, dropout, fused optimizer steps). Each
// function converts Lua arguments and calls trainrt::ops. Not here: modules
// with parameters (scripts/trainrt/nn), tensor methods (bind_tensor.cpp).
#include <array>
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/autocast.h"
#include "trainrt/error.h"
#include "trainrt/ops.h"

namespace trainrt::lua {
namespace {

// Tensor at idx, or undefined when nil/absent.
Tensor opt_tensor(lua_State* L, int idx) { return lua_isnoneornil(L, idx) ? Tensor() : check_tensor(L, idx); }

// A number n -> {n, n}; a table {a, b} -> {a, b}.
std::array<int64_t, 2> check_pair(lua_State* L, int idx, const char* what) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int64_t v = luaL_checkinteger(L, idx);
    return {v, v};
  }
  TRT_CHECK(lua_istable(L, idx) && luaL_len(L, idx) == 2, what, " must be an integer or a table of two integers");
  std::array<int64_t, 2> r{};
  for (int i = 0; i < 2; ++i) {
    lua_geti(L, idx, i + 1);
    int ok = 0;
    r[i] = lua_tointegerx(L, -1, &ok);
    TRT_CHECK(ok, what, " must be an integer or a table of two integers");
    lua_pop(L, 1);
  }
  return r;
}

// opts[key] as a pair when present.
void opt_pair_field(lua_State* L, int opts, const char* key, std::array<int64_t, 2>& out) {
  if (opts == 0) return;
  if (lua_getfield(L, opts, key) != LUA_TNIL) out = check_pair(L, lua_gettop(L), key);
  lua_pop(L, 1);
}
double opt_number_field(lua_State* L, int opts, const char* key, double fallback) {
  if (opts == 0) return fallback;
  double v = fallback;
  if (lua_getfield(L, opts, key) != LUA_TNIL) {
    int ok = 0;
    v = lua_tonumberx(L, -1, &ok);
    TRT_CHECK(ok, "option ", key, " must be a number");
  }
  lua_pop(L, 1);
  return v;
}
bool opt_bool_field(lua_State* L, int opts, const char* key, bool fallback) {
  if (opts == 0) return fallback;
  bool v = fallback;
  if (lua_getfield(L, opts, key) != LUA_TNIL) v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}
int opt_table(lua_State* L, int idx) { return lua_istable(L, idx) && !is_tensor(L, idx) ? idx : 0; }

ops::Reduction opt_reduction(lua_State* L, int opts) {
  if (opts == 0) return ops::Reduction::Mean;
  std::string r = "mean";
  if (lua_getfield(L, opts, "reduction") != LUA_TNIL) r = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  if (r == "mean") return ops::Reduction::Mean;
  if (r == "sum") return ops::Reduction::Sum;
  if (r == "none") return ops::Reduction::None;
  fail("reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

template <Tensor (*F)(const Tensor&)>
int unary(lua_State* L) {
  push_tensor(L, F(check_tensor(L, 1)));
  return 1;
}

int f_linear(lua_State* L) {
  push_tensor(L, ops::linear(check_tensor(L, 1), check_tensor(L, 2), opt_tensor(L, 3)));
  return 1;
}

// {stride=, padding=, dilation=, groups=} at stack index opts (0: none)
ops::Conv2dOptions conv_options(lua_State* L, int opts) {
  ops::Conv2dOptions o;
  opt_pair_field(L, opts, "stride", o.stride);
  opt_pair_field(L, opts, "padding", o.padding);
  opt_pair_field(L, opts, "dilation", o.dilation);
  o.groups = static_cast<int64_t>(opt_number_field(L, opts, "groups", 1));
  return o;
}

// conv2d(x, w [, b] [, {stride=, padding=, dilation=, groups=}])
int f_conv2d(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  Tensor& w = check_tensor(L, 2);
  int opts = opt_table(L, 3) ? 3 : opt_table(L, 4);
  Tensor b = opt_table(L, 3) ? Tensor() : opt_tensor(L, 3);
  push_tensor(L, ops::conv2d(x, w, b, conv_options(L, opts)));
  return 1;
}

// max_pool2d / avg_pool2d(x, kernel [, {stride=, padding=, count_include_pad=}]): the
// kernel size at stack index `kernel`, the options table after it.
ops::Pool2dOptions pool_options(lua_State* L, int kernel = 2) {
  ops::Pool2dOptions o;
  o.kernel = check_pair(L, kernel, "kernel size");
  int opts = opt_table(L, kernel + 1);
  opt_pair_field(L, opts, "stride", o.stride);
  opt_pair_field(L, opts, "padding", o.padding);
  o.count_include_pad = opt_bool_field(L, opts, "count_include_pad", true);
  return o;
}

// conv2d_relu_max_pool2d(x, w, b or nil, conv_opts or nil, pool_kernel [, pool_opts]):
// max_pool2d(relu(conv2d(...))), for inference without the whole convolution output.
int f_conv2d_relu_max_pool2d(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  Tensor& w = check_tensor(L, 2);
  Tensor b = opt_tensor(L, 3);
  push_tensor(L, ops::conv2d_relu_max_pool2d(x, w, b, conv_options(L, opt_table(L, 4)), pool_options(L, 5)));
  return 1;
}
int f_max_pool2d(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  push_tensor(L, ops::max_pool2d(x, pool_options(L)));
  return 1;
}
int f_avg_pool2d(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  push_tensor(L, ops::avg_pool2d(x, pool_options(L)));
  return 1;
}

template <Tensor (*F)(const Tensor&, int64_t)>
int softmax_family(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  int64_t dim = lua_isnoneornil(L, 2) ? -1 : check_dim(L, 2, x.dim());
  push_tensor(L, F(x, dim));
  return 1;
}

template <Tensor (*F)(const Tensor&, const Tensor&, ops::Reduction)>
int loss(lua_State* L) {
  Tensor& a = check_tensor(L, 1);
  Tensor& b = check_tensor(L, 2);
  push_tensor(L, F(a, b, opt_reduction(L, opt_table(L, 3))));
  return 1;
}

int f_dropout(lua_State* L) {
  Tensor& x = check_tensor(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  push_tensor(L, ops::dropout(x, p, training));
  return 1;
}

// sgd_step(param, grad, momentum_buf_or_nil, {lr=, momentum=, dampening=, weight_decay=, nesterov=}, first_step)
int f_sgd_step(lua_State* L) {
  Tensor& param = check_tensor(L, 1);
  Tensor& grad = check_tensor(L, 2);
  Tensor buf = opt_tensor(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  ops::SgdOptions o;
  o.lr = opt_number_field(L, 4, "lr", o.lr);
  o.momentum = opt_number_field(L, 4, "momentum", o.momentum);
  o.dampening = opt_number_field(L, 4, "dampening", o.dampening);
  o.weight_decay = opt_number_field(L, 4, "weight_decay", o.weight_decay);
  o.nesterov = opt_bool_field(L, 4, "nesterov", o.nesterov);
  ops::sgd_step(param, grad, buf, o, lua_toboolean(L, 5));
  return 0;
}

// {lr=, beta1=, beta2=, eps=, weight_decay=, decoupled=} at idx; absent fields keep AdamOptions' defaults.
ops::AdamOptions check_adam_options(lua_State* L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  ops::AdamOptions o;
  o.lr = opt_number_field(L, idx, "lr", o.lr);
  o.beta1 = opt_number_field(L, idx, "beta1", o.beta1);
  o.beta2 = opt_number_field(L, idx, "beta2", o.beta2);
  o.eps = opt_number_field(L, idx, "eps", o.eps);
  o.weight_decay = opt_number_field(L, idx, "weight_decay", o.weight_decay);
  o.decoupled_weight_decay = opt_bool_field(L, idx, "decoupled", o.decoupled_weight_decay);
  return o;
}

// adam_step(param, grad, exp_avg, exp_avg_sq, {lr=, beta1=, beta2=, eps=, weight_decay=, decoupled=}, step)
int f_adam_step(lua_State* L) {
  Tensor& param = check_tensor(L, 1);
  Tensor& grad = check_tensor(L, 2);
  Tensor& exp_avg = check_tensor(L, 3);
  Tensor& exp_avg_sq = check_tensor(L, 4);
  ops::AdamOptions o = check_adam_options(L, 5);
  ops::adam_step(param, grad, exp_avg, exp_avg_sq, o, luaL_checkinteger(L, 6));
  return 0;
}

// A Lua list of tensors at idx (copies of the handles: they share storage).
std::vector<Tensor> check_tensor_list(lua_State* L, int idx, const char* what) {
  luaL_checktype(L, idx, LUA_TTABLE);
  std::vector<Tensor> out;
  lua_Integer n = luaL_len(L, idx);
  out.reserve(static_cast<size_t>(n));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, idx, i);
    TRT_CHECK(!lua_isnil(L, -1), what, "[", i, "] is nil");
    out.push_back(check_tensor(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
  return out;
}

// adam_step_multi({params}, {grads}, {exp_avgs}, {exp_avg_sqs}, {lr=, ...}, step): adam_step on each,
// one kernel launch per (device, dtype).
int f_adam_step_multi(lua_State* L) {
  std::vector<Tensor> params = check_tensor_list(L, 1, "params");
  std::vector<Tensor> grads = check_tensor_list(L, 2, "grads");
  std::vector<Tensor> exp_avgs = check_tensor_list(L, 3, "exp_avgs");
  std::vector<Tensor> exp_avg_sqs = check_tensor_list(L, 4, "exp_avg_sqs");
  ops::AdamOptions o = check_adam_options(L, 5);
  ops::adam_step_multi(params, grads, exp_avgs, exp_avg_sqs, o, luaL_checkinteger(L, 6));
  return 0;
}

const luaL_Reg kFunctions[] = {
    {"relu", guarded<unary<ops::relu>>},
    {"sigmoid", guarded<unary<ops::sigmoid>>},
    {"tanh", guarded<unary<ops::tanh>>},
    {"linear", guarded<f_linear>},
    {"conv2d", guarded<f_conv2d>},
    {"max_pool2d", guarded<f_max_pool2d>},
    {"round_bf16", guarded<unary<ops::round_bf16>>},
    {"conv2d_relu_max_pool2d", guarded<f_conv2d_relu_max_pool2d>},
    {"avg_pool2d", guarded<f_avg_pool2d>},
    {"log_softmax", guarded<softmax_family<ops::log_softmax>>},
    {"softmax", guarded<softmax_family<ops::softmax>>},
    {"cross_entropy", guarded<loss<ops::cross_entropy>>},
    {"nll_loss", guarded<loss<ops::nll_loss>>},
    {"mse_loss", guarded<loss<ops::mse_loss>>},
    {"dropout", guarded<f_dropout>},
    {"sgd_step", guarded<f_sgd_step>},
    {"adam_step", guarded<f_adam_step>},
    {"adam_step_multi", guarded<f_adam_step_multi>},
    {nullptr, nullptr},
};

}  // namespace

void bind_functional(lua_State* L) {
  lua_newtable(L);
  set_functions(L, kFunctions);
  lua_setfield(L, -2, "F");
}

}  // namespace trainrt::lua
