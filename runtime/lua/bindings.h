// The native parts of the `trainrt` Lua module, one bind_<area> per file in
// runtime/lua/. The state builder (state.cpp) calls each with the `trainrt`
// table on top of the stack; a binding adds its functions/fields to that table
// (through lua_util.h's set_functions and lua::guarded) and leaves the stack as
// it found it. Not here: running scripts, config, argument parsing.
#pragma once
#include <lua.hpp>

namespace trainrt::lua {

void bind_tensor(lua_State* L);      // bind_tensor.cpp: Tensor metatable, methods, metamethods
void bind_creation(lua_State* L);    // bind_creation.cpp: tensor{}, zeros, randn, arange, manual_seed, ...
void bind_functional(lua_State* L);  // bind_functional.cpp: trainrt.F (activations, conv, pool, losses, optim steps)
void bind_autograd(lua_State* L);    // bind_autograd.cpp: no_grad
void bind_layer(lua_State* L);       // bind_layer.cpp: trainrt.layer(name, inputs, attrs) for plugin layers
void bind_gradcheck(lua_State* L);   // bind_gradcheck.cpp: trainrt.gradcheck(fn, inputs [, opts])
void bind_memory(lua_State* L);      // bind_memory.cpp: trainrt.memory(), collector pacing by native bytes
void bind_runtime(lua_State* L);     // bind_runtime.cpp: threads, devices, plugins, is_tty
void bind_data(lua_State* L);        // bind_data.cpp (data engineer): datasets from loader plugins, DataLoader
void bind_dist(lua_State* L);        // bind_dist.cpp: the job's process group, collectives, DDP reducer
void bind_checkpoint(lua_State* L);  // bind_checkpoint.cpp: safetensors files, generator state (trainrt._checkpoint)
void bind_devices(lua_State* L);     // bind_devices.cpp: trainrt.devices, the logical CPU devices (--devices)
void bind_metrics(lua_State* L);      // bind_metrics.cpp: trainrt.metrics (step, set, inc, observe, text)
void bind_compile(lua_State* L);      // bind_compile.cpp: trainrt.compile (captured step plans), compile_host

}  // namespace trainrt::lua
