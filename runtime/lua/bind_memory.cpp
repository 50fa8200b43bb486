// trainrt.memory(): native and Lua memory in bytes, for scripts, benchmarks
// and the tests that check a training loop's memory stays flat. Collector
// pacing itself is memory.cpp; deterministic release is t:free() / <close>.
#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "lua/memory.h"
#include "trainrt/allocator.h"

namespace trainrt::lua {
namespace {

void set_integer(lua_State* L, const char* key, int64_t value) {
  lua_pushinteger(L, static_cast<lua_Integer>(value));
  lua_setfield(L, -2, key);
}

// -> {live_bytes=, peak_bytes=, allocated_total=, cached_bytes=, lua_bytes=, collections=}
int l_memory(lua_State* L) {
  MemoryStats& stats = memory_stats();
  lua_createtable(L, 0, 6);
  set_integer(L, "live_bytes", stats.live_bytes.load());
  set_integer(L, "peak_bytes", stats.peak_bytes.load());
  set_integer(L, "allocated_total", stats.allocated_total.load());
  set_integer(L, "cached_bytes", stats.cached_bytes.load());
  set_integer(L, "lua_bytes", int64_t{lua_gc(L, LUA_GCCOUNT)} * 1024 + lua_gc(L, LUA_GCCOUNTB));
  set_integer(L, "collections", pacer(L).collections);
  return 1;
}

// trainrt.empty_cache(): returns the CPU allocator's cached blocks to the OS.
int l_empty_cache(lua_State*) {
  release_cpu_cache();
  return 0;
}

const luaL_Reg kFunctions[] = {
    {"memory", guarded<l_memory>},
    {"empty_cache", guarded<l_empty_cache>},
    {nullptr, nullptr},
};

}  // namespace

void bind_memory(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
