// Fuzzes trainrt.args (scripts/trainrt/args.lua), the parser of a script's own
// flags, in a bare Lua state whose trainrt.core is a stub: the input is an
// argv, arguments separated by NUL bytes, parsed against a fixed spec with
// every kind of flag and constraint. A bad flag or value must end in
// trainrt.exit(2, message) with a message; any other Lua error (a bug in the
// parser) traps.
#include <lua.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

const char* kSetup = R"lua(
package.path = ... .. "/?.lua;" .. package.path
local core = {
  config = { train = { epochs = 3, lr = 0.5 } },
  config_sources = { ["train.epochs"] = "trainrt.toml:2", ["train.lr"] = "--set train.lr=0.5" },
  script = "fuzz.lua",
  run_options = { { flag = "--threads", metavar = "N", help = "threads" } },
  exit = function(code, message) error({ exit = code, message = message }, 0) end,
}
package.loaded["trainrt.core"] = core
io.stdout = io.open("/dev/null", "w")   -- --help prints the usage
io.stderr = io.open("/dev/null", "w")
local args = require "trainrt.args"
local spec = {
  epochs = { 10, help = "passes", min = 1, max = 1000 },
  lr = { 1e-3, positive = true },
  batch_size = { 64, min = 1 },
  shuffle = true,
  name = { "run", choices = { "run", "test" } },
  data = "/tmp",
  ratio = { 0.5, min = 0, max = 1, finite = false },
}
return function(argv)
  local ok, err = pcall(args, spec, argv)
  if ok then return true end
  return type(err) == "table" and type(err.exit) == "number" and (err.exit == 0 or #tostring(err.message) > 0)
end
)lua";

lua_State* state() {
  static lua_State* L = [] {
    lua_State* s = luaL_newstate();
    luaL_openlibs(s);
    if (luaL_loadstring(s, kSetup) != LUA_OK) __builtin_trap();
    lua_pushstring(s, TRAINRT_SOURCE_DIR "/scripts");
    if (lua_pcall(s, 1, 1, 0) != LUA_OK) __builtin_trap();
    lua_setglobal(s, "parse");
    return s;
  }();
  return L;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lua_State* L = state();
  lua_getglobal(L, "parse");
  lua_newtable(L);
  std::string current;
  lua_Integer n = 0;
  for (size_t i = 0; i <= size; ++i) {
    if (i == size || data[i] == 0) {
      lua_pushlstring(L, current.data(), current.size());
      lua_seti(L, -2, ++n);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_toboolean(L, -1)) __builtin_trap();
  lua_pop(L, 1);
  return 0;
}
