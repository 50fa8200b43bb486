// The embedded Lua state of a run: standard libraries, package.path (the
// script's folder, TRAINRT_LUA_PATH, the shipped scripts/), the `trainrt`
// module (native bindings + scripts/trainrt/init.lua) and the run context
// (config, where each config value came from, args, device). Loads Lua source
// only, never bytecode (source_loading.h), and runs the script under a message
// handler whose first line always says where (script_errors.h).
// Not here: command-line parsing (cli/), config loading (config/).
#pragma once
#include <lua.hpp>
#include <toml++/toml.h>

#include <string>
#include <vector>

namespace trainrt::lua {

struct RunContext {
  std::string script;                    // path as the user gave it
  std::vector<std::string> script_args;  // run options already removed
  toml::table config;                    // merged trainrt.toml + overrides
  std::string device = "cpu";
  bool quiet = false;
};

class LuaState {
 public:
  LuaState();
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;
  lua_State* get() const { return L_; }

  // Loads and runs run.script. Syntax and runtime errors are printed to
  // stderr (message with file:line, then a traceback); returns the process
  // exit code: 0, 1 for a Lua error, or the code given to trainrt.exit().
  int run_script(const RunContext& run);

  // What run_script does before loading the script: package.path (the
  // script's folder first), the `trainrt` module and the run context. For
  // hosts that call into Lua themselves (trainrt serve). Returns 0, or the
  // exit code after printing the failure.
  int open(const RunContext& run);

 private:
  lua_State* L_;
};

// The folder of the Lua scripts that ship with trainrt (installed
// share/trainrt/scripts, else the source tree's scripts/).
std::string builtin_scripts_dir();

}  // namespace trainrt::lua
