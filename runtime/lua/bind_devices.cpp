// trainrt.devices: the run's devices as a list of strings, {"cpu:0", "cpu:1"}
// for `--devices cpu:0,cpu:1`, {"cuda:0", "cuda:1"} for `--devices cuda:*` on
// two GPUs ({"cpu:0"} without the flag), in
// the order the mirrored strategy places its replicas. A plain field, set once
// when the state is built: the count does not change during a run (stream.h).
// Not here: --device (the run's one device, trainrt.device), parsing (config/).
#include <string>

#include "lua/bindings.h"
#include "trainrt/devices.h"

namespace trainrt::lua {

void bind_devices(lua_State* L) {
  std::vector<Device> devices = run_devices();
  lua_createtable(L, static_cast<int>(devices.size()), 0);
  for (size_t i = 0; i < devices.size(); ++i) {
    lua_pushstring(L, devices[i].str().c_str());
    lua_seti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "devices");
}

}  // namespace trainrt::lua
