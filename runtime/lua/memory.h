// Collector pacing for native memory. A tensor userdata is a few dozen bytes to
// Lua while it keeps megabytes of native storage alive, so Lua's own pacing
// would free those late. After each new tensor we compare the native live
// bytes with the least that was live since the last collection (storages a
// collection released count as live until the queued kernels holding them
// have run) and run a full collection once the growth exceeds max(floor, that
// baseline) (Go's GOGC=100 rule). Not here: deterministic release (t:free() / <close> in bind_tensor.cpp).
#pragma once
#include <lua.hpp>

#include <cstdint>

namespace trainrt::lua {

struct CollectorPacer {
  int64_t live_after_last_collection = 0;  // the least live since the last collection
  int64_t floor_bytes = int64_t{32} << 20;  // never collect for less than 32 MiB of growth
  int64_t collections = 0;
};

// The pacer of this Lua state (created on first use, stored in the registry).
CollectorPacer& pacer(lua_State* L);
// Runs a full collection when native live bytes grew past the pacer's threshold.
void pace_collector(lua_State* L);

}  // namespace trainrt::lua
