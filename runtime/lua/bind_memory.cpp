// trainrt.memory(): native and Lua memory in bytes, for scripts, benchmarks
// and the tests that check a training loop's memory stays flat. Collector
// pacing itself is memory.cpp; deterministic release is t:free() / <close>.
#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "lua/memory.h"
#include "trainrt/allocator.h"
#include "trainrt/devices.h"

namespace trainrt::lua {
namespace {

void set_integer(lua_State* L, const char* key, int64_t value) {
  lua_pushinteger(L, static_cast<lua_Integer>(value));
  lua_setfield(L, -2, key);
}

// trainrt.memory("cuda:0") -> {live_bytes=, peak_bytes=, allocated_total=, cached_bytes=}
// for one device (torch.cuda.memory_allocated / max_memory_allocated / memory_reserved).
int device_memory_table(lua_State* L, Device device) {
  DeviceMemory m = device_memory(device);
  lua_createtable(L, 0, 5);
  set_integer(L, "live_bytes", m.live_bytes);
  set_integer(L, "peak_bytes", m.peak_bytes);
  set_integer(L, "allocated_total", m.allocated_total);
  set_integer(L, "cached_bytes", m.cached_bytes);
  lua_pushstring(L, device.str().c_str());
  lua_setfield(L, -2, "device");
  return 1;
}

// trainrt.memory() -> {live_bytes=, peak_bytes=, allocated_total=, cached_bytes=, lua_bytes=, collections=}
// over every device; trainrt.memory(device) -> that device's counters.
int l_memory(lua_State* L) {
  if (!lua_isnoneornil(L, 1)) return device_memory_table(L, Device::parse(luaL_checkstring(L, 1)));
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

// trainrt.empty_cache(): returns every allocator's cached blocks (host memory
// to the OS, device memory to the driver).
int l_empty_cache(lua_State*) {
  empty_all_caches();
  return 0;
}

// trainrt.reset_peak_memory(device): the device's peak becomes its live bytes.
int l_reset_peak_memory(lua_State* L) {
  reset_peak_memory(Device::parse(luaL_optstring(L, 1, "cpu:0")));
  return 0;
}

const luaL_Reg kFunctions[] = {
    {"memory", guarded<l_memory>},
    {"empty_cache", guarded<l_empty_cache>},
    {"reset_peak_memory", guarded<l_reset_peak_memory>},
    {nullptr, nullptr},
};

}  // namespace

void bind_memory(lua_State* L) { set_functions(L, kFunctions); }

}  // namespace trainrt::lua
