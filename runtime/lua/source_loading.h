// Lua chunks loaded only from source text. Lua does not verify precompiled
// (luac / string.dump) bytecode, and a crafted or stale chunk can crash the
// process, so nothing trainrt loads may be bytecode: the script, require'd
// modules (package.searchers' Lua searcher), loadfile, dofile and load. Not
// here: C modules found on package.cpath, which are native code by design.
#pragma once
#include <lua.hpp>

namespace trainrt::lua {

// luaL_loadfilex(L, path, "t") whose refusal of a binary chunk is one line
// naming the file: "PATH: is a precompiled Lua chunk (bytecode); trainrt runs
// only Lua source, ...". Same return codes and stack effect as luaL_loadfilex.
int load_source_file(lua_State* L, const char* path);

// Replaces the globals loadfile, dofile and load and package.searchers[2]
// with versions that accept text chunks only. Call after luaL_openlibs.
void install_source_only_loaders(lua_State* L);

}  // namespace trainrt::lua
