// The Lua state of a run and the script runner (see state.h).
#include "lua/state.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "config/run_options.h"
#include "lua/bindings.h"
#include "lua/config_sources.h"
#include "lua/config_table.h"
#include "lua/lua_util.h"
#include "lua/script_errors.h"
#include "lua/source_loading.h"
#include "trainrt/error.h"
#include "trainrt/stream.h"

namespace trainrt::lua {
namespace fs = std::filesystem;
namespace {

std::string path_entries_for(const std::string& entry) {
  if (entry.find('?') != std::string::npos) return entry + ";";  // already a pattern
  return entry + "/?.lua;" + entry + "/?/init.lua;";
}

// package.path = script folder; TRAINRT_LUA_PATH; shipped scripts; Lua's default.
void set_package_path(lua_State* L, const std::string& script_dir) {
  std::string path;
  if (!script_dir.empty()) path += path_entries_for(script_dir);
  if (const char* extra = std::getenv("TRAINRT_LUA_PATH")) {
    std::istringstream in(extra);
    std::string entry;
    while (std::getline(in, entry, ':'))
      if (!entry.empty()) path += path_entries_for(entry);
  }
  std::string builtin = builtin_scripts_dir();
  if (!builtin.empty()) path += path_entries_for(builtin);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  path += lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_pushstring(L, path.c_str());
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// Fields of the run on the native trainrt table (on top of the stack).
void set_run_context(lua_State* L, const RunContext& run, const std::string& script_dir) {
  push_toml(L, run.config);
  lua_setfield(L, -2, "config");
  push_config_sources(L, run.config);
  lua_setfield(L, -2, "config_sources");
  set_string(L, "device", run.device);
  set_string(L, "script", run.script);
  set_string(L, "script_dir", script_dir);
  lua_pushboolean(L, run.quiet);
  lua_setfield(L, -2, "quiet");
  lua_createtable(L, static_cast<int>(run_option_specs().size()), 0);
  lua_Integer i = 1;
  for (const RunOptionSpec& spec : run_option_specs()) {
    lua_createtable(L, 0, 3);
    set_string(L, "flag", spec.flag);
    set_string(L, "metavar", spec.metavar);
    set_string(L, "help", spec.help);
    lua_seti(L, -2, i++);
  }
  lua_setfield(L, -2, "run_options");
}

// The global `arg` as in the standalone interpreter: arg[0] = script, arg[1..] = its args.
void set_arg_table(lua_State* L, const RunContext& run) {
  lua_createtable(L, static_cast<int>(run.script_args.size()), 1);
  lua_pushstring(L, run.script.c_str());
  lua_seti(L, -2, 0);
  for (size_t i = 0; i < run.script_args.size(); ++i) {
    lua_pushstring(L, run.script_args[i].c_str());
    lua_seti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setglobal(L, "arg");
}

}  // namespace

std::string builtin_scripts_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&builtin_scripts_dir), &info) && info.dli_fname) {
    fs::path installed = fs::path(info.dli_fname).parent_path() / ".." / "share" / "trainrt" / "scripts";
    std::error_code ec;
    if (fs::is_directory(installed, ec)) return fs::weakly_canonical(installed, ec).string();
  }
  fs::path source = fs::path(TRAINRT_SOURCE_DIR) / "scripts";
  std::error_code ec;
  if (fs::is_directory(source, ec)) return source.string();
  return "";
}

LuaState::LuaState() : L_(luaL_newstate()) {
  if (!L_) fail("cannot create a Lua state (out of memory)");
  luaL_openlibs(L_);
  install_source_only_loaders(L_);
}

LuaState::~LuaState() { lua_close(L_); }

int LuaState::open(const RunContext& run) {
  lua_State* L = L_;
  fs::path script_path(run.script);
  std::string script_dir = script_path.has_parent_path() ? script_path.parent_path().string() : ".";
  set_package_path(L, script_dir);

  // Native module, then scripts/trainrt/init.lua completes it (args, lazy submodules).
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_newtable(L);
  bind_tensor(L);
  bind_creation(L);
  bind_functional(L);
  bind_autograd(L);
  bind_layer(L);
  bind_gradcheck(L);
  bind_memory(L);
  bind_runtime(L);
  bind_data(L);
  bind_dist(L);
  bind_checkpoint(L);
  bind_devices(L);
  bind_metrics(L);
  bind_compile(L);
  set_run_context(L, run, script_dir);
  lua_setfield(L, -2, "trainrt.core");
  lua_pop(L, 2);
  set_arg_table(L, run);

  push_message_handler(L, run.script);
  int handler = lua_gettop(L);

  lua_getglobal(L, "require");
  lua_pushstring(L, "trainrt");
  if (int status = lua_pcall(L, 1, 1, handler); status != LUA_OK) return report_script_failure(L, status, run.script);
  lua_setglobal(L, "trainrt");
  lua_settop(L, 0);
  return 0;
}

int LuaState::run_script(const RunContext& run) {
  lua_State* L = L_;
  if (int code = open(run); code != 0) return code;
  push_message_handler(L, run.script);
  int handler = lua_gettop(L);

  // Syntax error, unreadable, or bytecode (refused: Lua does not verify it).
  if (int status = load_source_file(L, run.script.c_str()); status != LUA_OK)
    return report_script_failure(L, status, run.script);
  luaL_checkstack(L, static_cast<int>(run.script_args.size()) + 1, "too many script arguments");
  for (const std::string& a : run.script_args) lua_pushstring(L, a.c_str());
  if (int status = lua_pcall(L, static_cast<int>(run.script_args.size()), 0, handler); status != LUA_OK)
    return report_script_failure(L, status, run.script);
  lua_settop(L, 0);
  // Kernels still queued when the script ends must not fail unseen.
  try {
    synchronize_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trainrt: %s: %s\n", run.script.c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace trainrt::lua
