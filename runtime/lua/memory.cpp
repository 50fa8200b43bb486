// Collector pacing for native memory (see memory.h for the rule).
#include "lua/memory.h"

#include <new>

#include "trainrt/allocator.h"

namespace trainrt::lua {
namespace {
constexpr const char* kPacerKey = "trainrt.CollectorPacer";
}

CollectorPacer& pacer(lua_State* L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, kPacerKey) == LUA_TUSERDATA) {
    auto* p = static_cast<CollectorPacer*>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    return *p;
  }
  lua_pop(L, 1);
  // Plain data: Lua frees the block with the state, no __gc needed.
  auto* p = new (lua_newuserdatauv(L, sizeof(CollectorPacer), 0)) CollectorPacer();
  p->live_after_last_collection = memory_stats().live_bytes.load();
  lua_setfield(L, LUA_REGISTRYINDEX, kPacerKey);
  return *p;
}

void pace_collector(lua_State* L) {
  CollectorPacer& p = pacer(L);
  int64_t live = memory_stats().live_bytes.load();
  // Right after a collection, storages it released still count as live while
  // queued kernels hold them (the host runs ahead); they go within the step.
  // The lowest value seen since is what the script really retains, so that is
  // the baseline (without this, a training loop peaked at twice its need).
  if (live < p.live_after_last_collection) p.live_after_last_collection = live;
  int64_t allowed_growth = p.live_after_last_collection > p.floor_bytes ? p.live_after_last_collection : p.floor_bytes;
  if (live - p.live_after_last_collection <= allowed_growth) return;
  lua_gc(L, LUA_GCCOLLECT);
  p.live_after_last_collection = memory_stats().live_bytes.load();
  ++p.collections;
}

}  // namespace trainrt::lua
