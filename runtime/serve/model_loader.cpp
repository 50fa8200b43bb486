// Loading the served model through scripts/trainrt/serve.lua (see model_loader.h).
#include "serve/model_loader.h"

#include "lua/lua_util.h"
#include "trainrt/error.h"

namespace trainrt::serve {
namespace {

// The error on top of the stack as one line (Lua errors may be any value).
std::string pop_error(lua_State* L) {
  std::string message = luaL_tolstring(L, -1, nullptr);
  lua_pop(L, 2);
  if (size_t eol = message.find('\n'); eol != std::string::npos) message.resize(eol);
  return message;
}

}  // namespace

ServedModel::ServedModel(const lua::RunContext& run, const std::string& checkpoint, bool checkpoint_is_dir) {
  lua_State* L = state_.get();
  if (state_.open(run) != 0) fail("cannot start the Lua state for " + run.script);
  info_.model_path = run.script;
  info_.device = run.device;

  lua_getglobal(L, "require");
  lua_pushstring(L, "trainrt.serve");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) fail(pop_error(L));
  lua_getfield(L, -1, "load");
  lua_pushstring(L, run.script.c_str());
  lua_pushstring(L, checkpoint.c_str());
  lua_pushboolean(L, checkpoint_is_dir);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) fail(pop_error(L));
  // The table {forward, input_shape, parameters, checkpoint, prefix}.
  lua_getfield(L, -1, "checkpoint");
  info_.checkpoint_path = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "prefix");
  if (lua_isstring(L, -1)) info_.prefix = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "parameters");
  info_.parameters = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "input_shape");
  if (lua_istable(L, -1)) {
    Shape shape;
    for (lua_Integer i = 1, n = luaL_len(L, -1); i <= n; ++i) {
      lua_geti(L, -1, i);
      shape.push_back(lua_tointeger(L, -1));
      lua_pop(L, 1);
    }
    info_.input_shape = shape;
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "forward");
  forward_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 0);
}

ServedModel::~ServedModel() {
  if (forward_ref_ >= 0) luaL_unref(state_.get(), LUA_REGISTRYINDEX, forward_ref_);
}

Tensor ServedModel::forward(const Tensor& x) {
  lua_State* L = state_.get();
  lua_rawgeti(L, LUA_REGISTRYINDEX, forward_ref_);
  lua::push_tensor(L, x);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    std::string message = pop_error(L);
    lua_settop(L, 0);
    fail(message);
  }
  if (!lua::is_tensor(L, -1)) {
    lua_settop(L, 0);
    fail("the model's forward did not return a tensor");
  }
  Tensor y = lua::check_tensor(L, -1);
  lua_settop(L, 0);
  return y;
}

}  // namespace trainrt::serve
