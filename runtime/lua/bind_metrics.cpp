// trainrt.metrics: the Lua side of the metrics registry (trainrt/metrics.h).
// step{...}, eval{...} and checkpoint_saved() feed the runtime's own series
// (progress.lua, fit.lua, the checkpoint code call them); set/inc/observe add
// a script's own; text() is the exposition /metrics serves, port() its port. Recording costs
// the same whether or not a --metrics-port serves it.
#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/metrics.h"

namespace trainrt::lua {
namespace {

double number_field(lua_State* L, int idx, const char* key, double fallback, bool* present = nullptr) {
  lua_getfield(L, idx, key);
  double v = fallback;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1)) {
      lua_pop(L, 1);
      luaL_error(L, "trainrt.metrics: field '%s' must be a number", key);
    }
    v = lua_tonumber(L, -1);
    if (present) *present = true;
  }
  lua_pop(L, 1);
  return v;
}

// trainrt.metrics.step{samples=, seconds=, loss=, epoch=, step=, samples_per_s=}
int l_step(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  metrics::Step s;
  s.samples = number_field(L, 1, "samples", 0);
  s.seconds = number_field(L, 1, "seconds", -1);
  s.loss = number_field(L, 1, "loss", 0, &s.has_loss);
  s.epoch = static_cast<int64_t>(number_field(L, 1, "epoch", 0));
  s.epoch_step = static_cast<int64_t>(number_field(L, 1, "step", 0));
  s.samples_per_second = number_field(L, 1, "samples_per_s", -1);
  metrics::record_step(s);
  return 0;
}

// trainrt.metrics.eval{loss=, accuracy=}
int l_eval(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  bool has_accuracy = false;
  double loss = number_field(L, 1, "loss", 0 / 0.0);
  double accuracy = number_field(L, 1, "accuracy", 0, &has_accuracy);
  metrics::set_eval(loss, accuracy, has_accuracy);
  return 0;
}

int l_checkpoint_saved(lua_State*) {
  metrics::record_checkpoint_saved();
  return 0;
}

// opts at idx: {help = "...", labels = {k = "v"}, buckets = {...}} (all optional).
struct Options {
  std::string help;
  metrics::Labels labels;
  std::vector<double> buckets;
};
Options check_options(lua_State* L, int idx) {
  Options o;
  if (lua_isnoneornil(L, idx)) return o;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "help");
  if (!lua_isnil(L, -1)) o.help = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, idx, "labels");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "trainrt.metrics: label names must be strings");
      lua_pushvalue(L, -1);  // tostring of the value without changing the key
      const char* value = luaL_tolstring(L, -1, nullptr);
      o.labels.emplace_back(lua_tostring(L, -4), value);
      lua_pop(L, 3);
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "buckets");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, -1, i);
      o.buckets.push_back(luaL_checknumber(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return o;
}

// trainrt.metrics.set(name, value [, opts]): a gauge.
int l_set(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  double value = luaL_checknumber(L, 2);
  Options o = check_options(L, 3);
  metrics::registry().gauge(name, o.help, o.labels).set(value);
  return 0;
}

// trainrt.metrics.inc(name [, by = 1 [, opts]]): a counter (name it *_total).
int l_inc(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  double by = luaL_optnumber(L, 2, 1);
  Options o = check_options(L, 3);
  metrics::registry().counter(name, o.help, o.labels).inc(by);
  return 0;
}

// trainrt.metrics.observe(name, value [, opts]): a histogram (buckets: default durations in seconds).
int l_observe(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  double value = luaL_checknumber(L, 2);
  Options o = check_options(L, 3);
  const std::vector<double>& buckets = o.buckets.empty() ? metrics::duration_buckets() : o.buckets;
  metrics::registry().histogram(name, o.help, buckets, o.labels).observe(value);
  return 0;
}

// trainrt.metrics.text(): what /metrics would serve now.
int l_text(lua_State* L) {
  std::string text = metrics::registry().expose();
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// trainrt.metrics.port(): the port /metrics is served on (--metrics-port + LOCAL_RANK), or nil.
int l_port(lua_State* L) {
  int port = metrics::serving_port();
  if (port > 0) lua_pushinteger(L, port);
  else lua_pushnil(L);
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"port", guarded<l_port>},
    {"step", guarded<l_step>},
    {"eval", guarded<l_eval>},
    {"checkpoint_saved", guarded<l_checkpoint_saved>},
    {"set", guarded<l_set>},
    {"inc", guarded<l_inc>},
    {"observe", guarded<l_observe>},
    {"text", guarded<l_text>},
    {nullptr, nullptr},
};

}  // namespace

void bind_metrics(lua_State* L) {
  lua_newtable(L);
  set_functions(L, kFunctions);
  lua_setfield(L, -2, "metrics");
}

}  // namespace trainrt::lua
