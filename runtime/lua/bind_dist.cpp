// trainrt.core._dist: the native half of trainrt.dist (scripts/trainrt/dist.lua
// is the other): the job's environment, joining it (the process group), the
// collectives with Work handles, and the DDP reducer. Ranks are 0-based, as in
// every launcher's environment. Objects are userdata holding a shared_ptr that
// __gc resets, so the job (store server, group) ends with the Lua state.
// Deliberately thin: argument conversion only; behaviour lives in runtime/dist.
#include <chrono>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/dist/reducer.h"
#include "trainrt/dist/rendezvous.h"
#include "trainrt/error.h"

namespace trainrt::lua {
namespace {

using dist::Job;
using dist::ProcessGroup;
using dist::Reducer;
using dist::Work;

constexpr const char* kJobMeta = "trainrt.dist.Job";
constexpr const char* kWorkMeta = "trainrt.dist.Work";
constexpr const char* kReducerMeta = "trainrt.dist.Reducer";

template <typename T> void push_shared(lua_State* L, std::shared_ptr<T> object, const char* meta) {
  new (lua_newuserdatauv(L, sizeof(std::shared_ptr<T>), 0)) std::shared_ptr<T>(std::move(object));
  luaL_setmetatable(L, meta);
}

template <typename T> std::shared_ptr<T>& check_shared(lua_State* L, int idx, const char* meta) {
  auto* slot = static_cast<std::shared_ptr<T>*>(luaL_checkudata(L, idx, meta));
  if (!*slot) luaL_argerror(L, idx, "object was already released");
  return *slot;
}

// __gc: empties the slot (an empty shared_ptr owns nothing, so Lua can drop the block).
template <typename T> int release_shared(lua_State* L) {
  static_cast<std::shared_ptr<T>*>(lua_touserdata(L, 1))->reset();
  return 0;
}

ProcessGroup& check_group(lua_State* L, int idx) { return *check_shared<Job>(L, idx, kJobMeta)->group; }

std::chrono::milliseconds seconds_arg(lua_State* L, int idx, const char* what) {
  double s = luaL_checknumber(L, idx);
  TRT_CHECK(std::isfinite(s) && s > 0, what, " must be a positive number of seconds, got ", s);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(s * 1000)));
}

void set_integer(lua_State* L, const char* key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

void set_string(lua_State* L, const char* key, const std::string& v) {
  lua_pushstring(L, v.c_str());
  lua_setfield(L, -2, key);
}

// _dist.env() -> {rank=, world_size=, local_rank=, local_world_size=, source=, master_addr=, master_port=, restart_count=}
int l_env(lua_State* L) {
  dist::DistEnv env = dist::detect_dist_env();
  lua_createtable(L, 0, 8);
  set_integer(L, "rank", env.rank);
  set_integer(L, "world_size", env.world_size);
  set_integer(L, "local_rank", env.local_rank);
  set_integer(L, "local_world_size", env.local_world_size);
  set_string(L, "source", env.source);
  set_string(L, "master_addr", env.master_addr);
  set_integer(L, "master_port", env.master_port);
  set_integer(L, "restart_count", env.restart_count);
  set_string(L, "store", env.store_url());
  return 1;
}

// _dist.join(backend, timeout_s, device [, rdzv]) -> job
int l_join(lua_State* L) {
  dist::JoinOptions options;
  options.backend = luaL_checkstring(L, 1);
  options.timeout = seconds_arg(L, 2, "dist timeout");
  options.device = Device::parse(luaL_checkstring(L, 3));
  dist::DistEnv env = dist::detect_dist_env();
  if (!lua_isnoneornil(L, 4)) env.rdzv = luaL_checkstring(L, 4);
  push_shared(L, dist::join_job(env, options), kJobMeta);
  return 1;
}

int job_rank(lua_State* L) {
  lua_pushinteger(L, check_group(L, 1).rank());
  return 1;
}
int job_size(lua_State* L) {
  lua_pushinteger(L, check_group(L, 1).size());
  return 1;
}
int job_backend(lua_State* L) {
  lua_pushstring(L, check_group(L, 1).backend_name().c_str());
  return 1;
}

// Waits (default) or returns the Work when async is true.
int finish(lua_State* L, dist::WorkPtr work, bool async, int results_index) {
  if (async) {
    push_shared(L, std::move(work), kWorkMeta);
    return 1;
  }
  work->wait();
  lua_pushvalue(L, results_index);
  return 1;
}

// job:all_reduce(t [, op = "sum" [, async]]) -> t (in place) or work
int job_all_reduce(lua_State* L) {
  ProcessGroup& group = check_group(L, 1);
  Tensor& t = check_tensor(L, 2);
  auto op = dist::parse_reduce_op(luaL_optstring(L, 3, "sum"));
  return finish(L, group.all_reduce(t, op), lua_toboolean(L, 4), 2);
}

// job:broadcast(t, root [, async]) -> t (in place) or work
int job_broadcast(lua_State* L) {
  ProcessGroup& group = check_group(L, 1);
  Tensor& t = check_tensor(L, 2);
  lua_Integer root = luaL_checkinteger(L, 3);
  return finish(L, group.broadcast(t, static_cast<int>(root)), lua_toboolean(L, 4), 2);
}

// job:all_gather(t) -> (world_size, ...t's shape)
int job_all_gather(lua_State* L) {
  ProcessGroup& group = check_group(L, 1);
  Tensor input = check_tensor(L, 2).contiguous();
  Shape shape = input.sizes();
  shape.insert(shape.begin(), group.size());
  Tensor output = Tensor::empty(shape, input.dtype(), input.device());
  group.all_gather(input, output)->wait();
  push_tensor(L, output);
  return 1;
}

// job:reduce_scatter(t [, op]) -> this rank's slice along dim 1 (t:size(1) / world_size rows)
int job_reduce_scatter(lua_State* L) {
  ProcessGroup& group = check_group(L, 1);
  Tensor input = check_tensor(L, 2).contiguous();
  auto op = dist::parse_reduce_op(luaL_optstring(L, 3, "sum"));
  TRT_CHECK(input.dim() >= 1 && input.size(0) % group.size() == 0, "reduce_scatter: dim 1 of ", input.shape_str(),
            " does not split evenly over ", group.size(), " ranks");
  Shape shape = input.sizes();
  shape[0] /= group.size();
  Tensor output = Tensor::empty(shape, input.dtype(), input.device());
  group.reduce_scatter(input, output, op)->wait();
  push_tensor(L, output);
  return 1;
}

int job_barrier(lua_State* L) {
  check_group(L, 1).barrier()->wait();
  return 0;
}

int job_abort(lua_State* L) {
  check_group(L, 1).abort(luaL_optstring(L, 2, "aborted by the script"));
  return 0;
}

int job_tostring(lua_State* L) {
  auto& job = *static_cast<std::shared_ptr<Job>*>(luaL_checkudata(L, 1, kJobMeta));
  if (!job) {
    lua_pushstring(L, "ProcessGroup(released)");
    return 1;
  }
  lua_pushfstring(L, "ProcessGroup(%s, rank %d of %d)", job->group->backend_name().c_str(), job->group->rank(),
                  job->group->size());
  return 1;
}

// work:wait([timeout_s])
int work_wait(lua_State* L) {
  auto& work = check_shared<Work>(L, 1, kWorkMeta);
  if (lua_isnoneornil(L, 2)) work->wait();
  else work->wait(seconds_arg(L, 2, "wait timeout"));
  return 0;
}

int work_is_completed(lua_State* L) {
  lua_pushboolean(L, check_shared<Work>(L, 1, kWorkMeta)->is_completed());
  return 1;
}

// _dist.reducer(job, {params...}, {names...}, {bucket_mb=, first_bucket_mb=, find_unused=}) -> reducer
int l_reducer(lua_State* L) {
  auto& job = check_shared<Job>(L, 1, kJobMeta);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  std::vector<Tensor> params;
  std::vector<std::string> names;
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, 2, i);
    params.push_back(check_tensor(L, lua_gettop(L)));
    lua_pop(L, 1);
    lua_geti(L, 3, i);
    std::string name = lua_isstring(L, -1) ? std::string(lua_tostring(L, -1)) : std::string("#") + std::to_string(i);
    names.push_back(std::move(name));
    lua_pop(L, 1);
  }
  dist::ReducerOptions options;
  if (lua_istable(L, 4)) {
    lua_getfield(L, 4, "bucket_mb");
    if (!lua_isnil(L, -1)) options.bucket_bytes = static_cast<int64_t>(luaL_checknumber(L, -1) * 1024 * 1024);
    lua_getfield(L, 4, "first_bucket_mb");
    if (!lua_isnil(L, -1)) options.first_bucket_bytes = static_cast<int64_t>(luaL_checknumber(L, -1) * 1024 * 1024);
    lua_getfield(L, 4, "find_unused");
    options.find_unused = lua_toboolean(L, -1);
    lua_pop(L, 3);
  }
  TRT_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0, "ddp: bucket sizes must be positive");
  push_shared(L, std::make_shared<Reducer>(job->group, std::move(params), std::move(names), options), kReducerMeta);
  return 1;
}

int reducer_set_sync(lua_State* L) {
  check_shared<Reducer>(L, 1, kReducerMeta)->set_sync(lua_toboolean(L, 2));
  return 0;
}

int reducer_sync(lua_State* L) {
  lua_pushboolean(L, check_shared<Reducer>(L, 1, kReducerMeta)->sync());
  return 1;
}

// reducer:stats() -> {steps=, buckets=, buckets_started_during_backward=, wait_s=, last_wait_s=}
int reducer_stats(lua_State* L) {
  const dist::ReducerStats& s = check_shared<Reducer>(L, 1, kReducerMeta)->stats();
  lua_createtable(L, 0, 5);
  set_integer(L, "steps", s.steps);
  set_integer(L, "buckets", s.buckets);
  set_integer(L, "buckets_started_during_backward", s.buckets_started_during_backward);
  lua_pushnumber(L, s.wait_seconds);
  lua_setfield(L, -2, "wait_s");
  lua_pushnumber(L, s.last_wait_seconds);
  lua_setfield(L, -2, "last_wait_s");
  return 1;
}

// reducer:buckets() -> { {1-based param indices...}, ... } in launch order
int reducer_buckets(lua_State* L) {
  auto layout = check_shared<Reducer>(L, 1, kReducerMeta)->bucket_layout();
  lua_createtable(L, static_cast<int>(layout.size()), 0);
  for (size_t b = 0; b < layout.size(); ++b) {
    lua_createtable(L, static_cast<int>(layout[b].size()), 0);
    for (size_t i = 0; i < layout[b].size(); ++i) {
      lua_pushinteger(L, static_cast<lua_Integer>(layout[b][i] + 1));
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_rawseti(L, -2, static_cast<lua_Integer>(b + 1));
  }
  return 1;
}

void new_metatable(lua_State* L, const char* name, const luaL_Reg* methods, lua_CFunction gc,
                   lua_CFunction tostring = nullptr) {
  luaL_newmetatable(L, name);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  if (tostring) {
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_newtable(L);
  set_functions(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace

void bind_dist(lua_State* L) {
  static const luaL_Reg job_methods[] = {{"rank", guarded<job_rank>},
                                         {"size", guarded<job_size>},
                                         {"backend", guarded<job_backend>},
                                         {"all_reduce", guarded<job_all_reduce>},
                                         {"broadcast", guarded<job_broadcast>},
                                         {"all_gather", guarded<job_all_gather>},
                                         {"reduce_scatter", guarded<job_reduce_scatter>},
                                         {"barrier", guarded<job_barrier>},
                                         {"abort", guarded<job_abort>},
                                         {nullptr, nullptr}};
  new_metatable(L, kJobMeta, job_methods, release_shared<Job>, guarded<job_tostring>);
  static const luaL_Reg work_methods[] = {
      {"wait", guarded<work_wait>}, {"is_completed", guarded<work_is_completed>}, {nullptr, nullptr}};
  new_metatable(L, kWorkMeta, work_methods, release_shared<Work>);
  static const luaL_Reg reducer_methods[] = {{"set_sync", guarded<reducer_set_sync>},
                                             {"sync", guarded<reducer_sync>},
                                             {"stats", guarded<reducer_stats>},
                                             {"buckets", guarded<reducer_buckets>},
                                             {nullptr, nullptr}};
  new_metatable(L, kReducerMeta, reducer_methods, release_shared<Reducer>);

  static const luaL_Reg functions[] = {
      {"env", guarded<l_env>}, {"join", guarded<l_join>}, {"reducer", guarded<l_reducer>}, {nullptr, nullptr}};
  lua_newtable(L);
  set_functions(L, functions);
  lua_setfield(L, -2, "_dist");
}

}  // namespace trainrt::lua
