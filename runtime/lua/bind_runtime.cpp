// Process-level pieces of the trainrt table: threads, synchronize, is_tty, version, clock,
// loaded plugins, and trainrt.exit(code [, message]) which ends the script
// cleanly (destructors run, the runner prints message and exits with code).
// Not here: run context fields set by the runner (state.cpp).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "lua/bindings.h"
#include "lua/exit_request.h"
#include "lua/lua_util.h"
#include "trainrt/dispatch.h"
#include "trainrt/plugins.h"
#include "trainrt/process.h"
#include "trainrt/stream.h"

namespace trainrt::lua {
namespace {

int l_set_threads(lua_State* L) {
  set_num_threads(static_cast<int>(luaL_checkinteger(L, 1)));
  return 0;
}
int l_threads(lua_State* L) {
  lua_pushinteger(L, num_threads());
  return 1;
}
// trainrt.synchronize([device]): waits until the device's queue (every queue
// without an argument) has run what was launched, raising a kernel's error.
int l_synchronize(lua_State* L) {
  if (lua_isnoneornil(L, 1)) synchronize_all();
  else synchronize(Device::parse(luaL_checkstring(L, 1)));
  return 0;
}
// Wall-clock seconds from a steady clock (for rates and ETAs; os.clock is CPU time).
int l_clock(lua_State* L) {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  lua_pushnumber(L, std::chrono::duration<double>(now).count());
  return 1;
}
// -> {uptime_s = seconds since the process started, peak_rss_bytes = peak resident memory}
int l_process(lua_State* L) {
  lua_createtable(L, 0, 2);
  lua_pushnumber(L, seconds_since_process_start());
  lua_setfield(L, -2, "uptime_s");
  lua_pushinteger(L, peak_rss_bytes());
  lua_setfield(L, -2, "peak_rss_bytes");
  return 1;
}
int l_exit(lua_State* L) {
  lua_Integer code = luaL_optinteger(L, 1, 0);
  // A process exit status is 8 bits: 256 would read as success.
  luaL_argcheck(L, code >= 0 && code <= 255, 1, "exit code must be between 0 and 255");
  const char* message = luaL_optstring(L, 2, nullptr);
  return raise_exit_request(L, static_cast<int>(code), message ? message : "");
}

void set_strings(lua_State* L, const char* key, const std::vector<std::string>& values) {
  lua_createtable(L, static_cast<int>(values.size()), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    lua_pushstring(L, values[i].c_str());
    lua_seti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, key);
}

// -> list of {name=, version=, path=, abi_version=, ops_cpu={...}, ops_cuda={...}, layers=, loaders=, collectives=}
int l_plugins(lua_State* L) {
  const auto& loaded = loaded_plugins();
  lua_createtable(L, static_cast<int>(loaded.size()), 0);
  for (size_t i = 0; i < loaded.size(); ++i) {
    const PluginRecord& p = loaded[i];
    lua_createtable(L, 0, 9);
    lua_pushstring(L, p.name.c_str());
    lua_setfield(L, -2, "name");
    lua_pushstring(L, p.version.c_str());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, p.path.c_str());
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, p.abi_version);
    lua_setfield(L, -2, "abi_version");
    set_strings(L, "ops_cpu", p.kernels_cpu);
    set_strings(L, "ops_cuda", p.kernels_cuda);
    set_strings(L, "layers_cpu", p.layers_cpu);
    set_strings(L, "layers_cuda", p.layers_cuda);
    set_strings(L, "loaders", p.loaders);
    set_strings(L, "collectives", p.collectives);
    lua_seti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"set_threads", guarded<l_set_threads>},
    {"threads", guarded<l_threads>},
    {"synchronize", guarded<l_synchronize>},
    {"exit", guarded<l_exit>},
    {"clock", guarded<l_clock>},
    {"process", guarded<l_process>},
    {"plugins", guarded<l_plugins>},
    {nullptr, nullptr},
};

}  // namespace

void bind_runtime(lua_State* L) {
  set_functions(L, kFunctions);
  // A worker of `trainrt launch` writes into a pipe; the launcher sets
  // TRAINRT_TTY=1 for rank 0 when its own stdout is a terminal.
  const char* tty = std::getenv("TRAINRT_TTY");
  lua_pushboolean(L, isatty(fileno(stdout)) || (tty && std::string(tty) == "1"));
  lua_setfield(L, -2, "is_tty");
  lua_pushstring(L, TRAINRT_VERSION);
  lua_setfield(L, -2, "version");
  // The trainrt binary running this script (for scripts that start more of them).
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  lua_pushstring(L, exe.c_str());
  lua_setfield(L, -2, "executable");
}

}  // namespace trainrt::lua
