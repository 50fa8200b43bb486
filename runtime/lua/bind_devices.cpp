// trainrt.devices: the run's logical CPU devices as a list of strings,
// {"cpu:0", "cpu:1"} for `--devices cpu:0,cpu:1` ({"cpu:0"} without it), in
// the order the mirrored strategy places its replicas. A plain field, set once
// when the state is built: the count does not change during a run (stream.h).
// Not here: --device (the run's one device, trainrt.device), parsing (config/).
#include <string>

#include "lua/bindings.h"
#include "trainrt/stream.h"

namespace trainrt::lua {

void bind_devices(lua_State* L) {
  int count = cpu_device_count();
  lua_createtable(L, count, 0);
  for (int i = 0; i < count; ++i) {
    lua_pushstring(L, Device{DeviceType::CPU, i}.str().c_str());
    lua_seti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "devices");
}

}  // namespace trainrt::lua
