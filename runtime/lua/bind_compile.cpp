// trainrt.compile(step_fn [, opts]): a training step captured once per input
// signature and replayed as a native plan (runtime/compile/plan.h), and
// trainrt.compile_host(fn), which makes fn a host node of the step being
// captured (the optimizer's update calls it). The first call with a new
// signature runs step_fn eagerly while recording its kernels; later calls copy
// the new inputs into the plan's input buffers and replay. A signature is each
// argument's kind: a tensor's dtype, device, sizes, strides and requires_grad,
// or a number, string or boolean's value; plus grad mode and threads. A step
// the plan cannot replay faithfully (capture.h says what) runs eagerly for that
// signature, with a warning saying why. Results: tensors are copied out at
// every call (a replay overwrites the plan's own), other values are constants.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "compile/plan.h"
#include "lua_util.h"
#include "trainrt/autograd.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/error.h"
#include "trainrt/log.h"
#include "trainrt/ops/creation.h"
#include "trainrt/stream.h"

namespace trainrt::lua {
namespace {

constexpr const char* kStepMeta = "trainrt.CompiledStep";
constexpr size_t kMaxSignatures = 8;

struct Captured {
  std::string signature;
  std::shared_ptr<compile::Plan> plan;  // null: this signature runs eagerly
  std::string eager_reason;
  std::vector<Tensor> inputs;           // the plan's input buffers, one per tensor argument
  std::vector<int> host_refs;           // host node functions, in order
  std::vector<Tensor> results;          // undefined where the result is a constant
  std::vector<int> constant_refs;       // LUA_NOREF where the result is a tensor
};

struct CompiledStep {
  int fn_ref = LUA_NOREF;
  bool verbose = false;
  std::map<std::string, int> invalidated;  // signature -> plans dropped because state was replaced
  std::vector<std::unique_ptr<Captured>> captured;
  int64_t replays = 0, eager_calls = 0;
};

thread_local Captured* capturing = nullptr;  // the signature being captured (for compile_host)

CompiledStep& check_step(lua_State* L, int idx) {
  return **static_cast<CompiledStep**>(luaL_checkudata(L, idx, kStepMeta));
}

// "T float32 cpu (64,1,28,28) (784,784,28,1) g0" per tensor argument, and so on.
bool signature_of(lua_State* L, int first, int last, std::string& sig, std::string& unsupported) {
  char buf[64];
  sig = "grad=" + std::to_string(grad_enabled()) + " threads=" + std::to_string(num_threads());
  for (int i = first; i <= last; ++i) {
    sig += " |";
    switch (lua_type(L, i)) {
      case LUA_TNIL: sig += "nil"; break;
      case LUA_TBOOLEAN: sig += lua_toboolean(L, i) ? "true" : "false"; break;
      case LUA_TNUMBER:
        std::snprintf(buf, sizeof(buf), "n%.17g", lua_tonumber(L, i));
        sig += buf;
        break;
      case LUA_TSTRING: sig += std::string("s") + lua_tostring(L, i); break;
      default:
        if (!is_tensor(L, i)) {
          unsupported = "argument " + std::to_string(i - first + 1) + " is a " + luaL_typename(L, i);
          return false;
        }
        const Tensor& t = check_tensor(L, i);
        sig += "T" + std::string(dtype_name(t.dtype())) + " " + t.device().str() + " " + shape_str(t.sizes()) + " " +
               shape_str(t.strides()) + (t.requires_grad() ? " grad" : "");
    }
  }
  return true;
}

std::string describe_args(lua_State* L, int first, int last) {
  std::string out;
  for (int i = first; i <= last; ++i) {
    if (!out.empty()) out += ", ";
    out += is_tensor(L, i) ? check_tensor(L, i).shape_str() : luaL_typename(L, i);
  }
  return out;
}

void release_captured(lua_State* L, Captured& c) {
  for (int ref : c.host_refs) luaL_unref(L, LUA_REGISTRYINDEX, ref);
  for (int ref : c.constant_refs) luaL_unref(L, LUA_REGISTRYINDEX, ref);
  c.host_refs.clear();
  c.constant_refs.clear();
}

// Calls step_fn eagerly with the arguments at [first, last]; returns the result count.
int call_eagerly(lua_State* L, CompiledStep& step, int first, int last) {
  ++step.eager_calls;
  int base = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, step.fn_ref);
  for (int i = first; i <= last; ++i) lua_pushvalue(L, i);
  lua_call(L, last - first + 1, LUA_MULTRET);
  return lua_gettop(L) - base;
}

void push_results(lua_State* L, const Captured& c) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < c.results.size(); ++i) {
    if (c.results[i].defined()) push_tensor(L, c.results[i].clone());
    else lua_rawgeti(L, LUA_REGISTRYINDEX, c.constant_refs[i]);
  }
}

// The first call with this signature: records while running eagerly, then plans.
int capture_call(lua_State* L, CompiledStep& step, Captured& c, int first, int last) {
  int base = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, step.fn_ref);
  for (int i = first; i <= last; ++i) {
    if (is_tensor(L, i)) {
      NoGradGuard no_grad;
      c.inputs.push_back(check_tensor(L, i).detach().clone());  // the plan's own input buffer
      push_tensor(L, c.inputs.back());
    } else {
      lua_pushvalue(L, i);
    }
  }
  // A capture is rare (once per signature) and its eager run and the arena
  // after it are the step's largest allocations: blocks cached for other sizes
  // go back to the system first, and the capture's own afterwards.
  empty_all_caches();
  capture::Recording recording;
  {
    capture::Session session;
    struct Restore {
      ~Restore() { capturing = nullptr; }
    } restore;
    capturing = &c;
    lua_call(L, last - first + 1, LUA_MULTRET);
    recording = std::move(session.recording());
  }
  int nresults = lua_gettop(L) - base;
  for (int i = base + 1; i <= base + nresults; ++i) {
    if (is_tensor(L, i)) {
      c.results.push_back(check_tensor(L, i).detach());
      c.constant_refs.push_back(LUA_NOREF);
    } else {
      int type = lua_type(L, i);
      if (type == LUA_TTABLE || type == LUA_TFUNCTION || type == LUA_TUSERDATA || type == LUA_TTHREAD)
        if (recording.failure.empty()) recording.failure = std::string("it returns a ") + luaL_typename(L, i);
      c.results.emplace_back();
      lua_pushvalue(L, i);
      c.constant_refs.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
    }
  }
  if (!recording.failure.empty()) {
    c.eager_reason = recording.failure;
    log(LogLevel::Warn, "trainrt.compile: the step runs eagerly for inputs (" + describe_args(L, first, last) +
                            ") because " + c.eager_reason);
    return nresults;  // the eager results of this call
  }
  lua_settop(L, base);
  // What still refers to the step's intermediates: dead userdata not yet
  // collected, queued tasks not yet run. Once, at capture.
  lua_gc(L, LUA_GCCOLLECT);
  synchronize_all();
  empty_all_caches();
  std::vector<StoragePtr> keep;
  for (const Tensor& t : c.inputs) keep.push_back(t.storage());
  for (const Tensor& t : c.results)
    if (t.defined()) keep.push_back(t.storage());
  try {
    c.plan = std::make_shared<compile::Plan>(std::move(recording), keep);
  } catch (const Error& e) {
    c.eager_reason = e.what();
    log(LogLevel::Warn, "trainrt.compile: the step runs eagerly for inputs (" + describe_args(L, first, last) +
                            ") because " + c.eager_reason);
  }
  if (c.plan && step.verbose) {
    const compile::PlanStats& s = c.plan->stats();
    log(LogLevel::Info, "trainrt.compile: captured (" + describe_args(L, first, last) + "): " +
                            std::to_string(s.recorded_kernels) + " kernels -> " + std::to_string(s.kernels) + ", " +
                            std::to_string(s.fusions.size()) + " fused, intermediates " +
                            std::to_string(s.internal_bytes >> 10) + " KiB -> arena " +
                            std::to_string(s.arena_bytes >> 10) + " KiB");
  }
  push_results(L, c);
  return static_cast<int>(c.results.size());
}

int replay(lua_State* L, CompiledStep& step, Captured& c, int first, int last) {
  ++step.replays;
  size_t k = 0;
  for (int i = first; i <= last; ++i)
    if (is_tensor(L, i)) ops::copy_(c.inputs[k++], check_tensor(L, i));
  const auto& plan = c.plan;
  for (size_t s = 0; s < plan->segments(); ++s) {
    plan->launch_segment(s, plan);
    if (s < c.host_refs.size()) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, c.host_refs[s]);
      lua_call(L, 0, 0);
    }
  }
  push_results(L, c);
  return static_cast<int>(c.results.size());
}

int step_call(lua_State* L) {
  CompiledStep& step = check_step(L, 1);
  int first = 2, last = lua_gettop(L);
  std::string sig, unsupported;
  if (!signature_of(L, first, last, sig, unsupported)) return call_eagerly(L, step, first, last);
  for (size_t i = 0; i < step.captured.size(); ++i) {
    Captured& c = *step.captured[i];
    if (c.signature != sig) continue;
    if (!c.plan) return call_eagerly(L, step, first, last);
    if (c.plan->state_intact()) return replay(L, step, c, first, last);
    // Replaced state: capture again with what the step now refers to; a step
    // whose state is replaced at every call runs eagerly instead.
    release_captured(L, c);
    step.captured.erase(step.captured.begin() + static_cast<long>(i));
    if (++step.invalidated[sig] >= 3) {
      auto eager = std::make_unique<Captured>();
      eager->signature = sig;
      eager->eager_reason =
          "state it writes is replaced between calls (zero_grad() outside the compiled step, or a parameter "
          "swapped for a new tensor); call zero_grad() inside the step";
      log(LogLevel::Warn, "trainrt.compile: the step runs eagerly for inputs (" + describe_args(L, first, last) +
                              ") because " + eager->eager_reason);
      step.captured.push_back(std::move(eager));
      return call_eagerly(L, step, first, last);
    }
    break;
  }
  if (step.captured.size() >= kMaxSignatures) return call_eagerly(L, step, first, last);
  step.captured.push_back(std::make_unique<Captured>());
  step.captured.back()->signature = sig;
  try {
    return capture_call(L, step, *step.captured.back(), first, last);
  } catch (...) {  // the step raised an error: the next call with this signature captures afresh
    release_captured(L, *step.captured.back());
    step.captured.pop_back();
    throw;
  }
}

void release_refs(lua_State* L, CompiledStep& step) {
  for (auto& c : step.captured) release_captured(L, *c);
  step.captured.clear();
}

int step_gc(lua_State* L) {
  auto** holder = static_cast<CompiledStep**>(luaL_checkudata(L, 1, kStepMeta));
  if (*holder) {
    release_refs(L, **holder);
    luaL_unref(L, LUA_REGISTRYINDEX, (*holder)->fn_ref);
    delete *holder;
    *holder = nullptr;
  }
  return 0;
}

// step:reset(): forgets every plan (after changing host state the step reads,
// such as model:eval(), or replacing parameters); the next call captures again.
int step_reset(lua_State* L) {
  release_refs(L, check_step(L, 1));
  return 0;
}

// step:info(): {replays, eager_calls, plans = {{kernels_recorded, kernels, fusions = {...},
// kernel_names = {...}, intermediate_bytes, arena_bytes} or {eager_reason}, ...}}
int step_info(lua_State* L) {
  CompiledStep& step = check_step(L, 1);
  lua_newtable(L);
  lua_pushinteger(L, step.replays);
  lua_setfield(L, -2, "replays");
  lua_pushinteger(L, step.eager_calls);
  lua_setfield(L, -2, "eager_calls");
  lua_newtable(L);
  int n = 0;
  for (const auto& c : step.captured) {
    lua_newtable(L);
    if (c->plan) {
      const compile::PlanStats& s = c->plan->stats();
      lua_pushinteger(L, static_cast<lua_Integer>(s.recorded_kernels));
      lua_setfield(L, -2, "kernels_recorded");
      lua_pushinteger(L, static_cast<lua_Integer>(s.kernels));
      lua_setfield(L, -2, "kernels");
      lua_pushinteger(L, static_cast<lua_Integer>(s.internal_bytes));
      lua_setfield(L, -2, "intermediate_bytes");
      lua_pushinteger(L, static_cast<lua_Integer>(s.arena_bytes));
      lua_setfield(L, -2, "arena_bytes");
      lua_newtable(L);
      for (size_t i = 0; i < s.fusions.size(); ++i) {
        lua_pushstring(L, s.fusions[i].c_str());
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      lua_setfield(L, -2, "fusions");
      lua_newtable(L);
      for (size_t i = 0; i < s.kernel_names.size(); ++i) {
        lua_pushstring(L, s.kernel_names[i].c_str());
        lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
      }
      lua_setfield(L, -2, "kernel_names");
    } else {
      lua_pushstring(L, c->eager_reason.c_str());
      lua_setfield(L, -2, "eager_reason");
    }
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "plans");
  return 1;
}

// trainrt.compile(step_fn [, {verbose = bool}]) -> callable compiled step
int l_compile(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  bool verbose = false;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "verbose");
    verbose = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  auto** holder = static_cast<CompiledStep**>(lua_newuserdatauv(L, sizeof(CompiledStep*), 0));
  *holder = nullptr;
  luaL_setmetatable(L, kStepMeta);
  auto* step = new CompiledStep;
  lua_pushvalue(L, 1);
  step->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  step->verbose = verbose;
  *holder = step;
  return 1;
}

// trainrt.compile_host(fn, ...): runs fn(...) and returns its results; inside
// a capture, fn also becomes a host node that every replay calls (with no
// arguments, results dropped), between the kernels before and after it.
int l_compile_host(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 1;
  if (capturing && capture::active()) {
    lua_pushvalue(L, 1);
    capturing->host_refs.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
  }
  capture::run_host_node([&] { lua_call(L, nargs, LUA_MULTRET); });
  return lua_gettop(L);  // fn and its arguments were replaced by its results
}

}  // namespace

void bind_compile(lua_State* L) {
  if (luaL_newmetatable(L, kStepMeta)) {
    lua_pushcfunction(L, guarded<step_call>);
    lua_setfield(L, -2, "__call");
    lua_pushcfunction(L, step_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, guarded<step_info>);
    lua_setfield(L, -2, "info");
    lua_pushcfunction(L, guarded<step_reset>);
    lua_setfield(L, -2, "reset");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg functions[] = {
      {"compile", guarded<l_compile>},
      {"compile_host", guarded<l_compile_host>},
      {nullptr, nullptr},
  };
  set_functions(L, functions);
}

}  // namespace trainrt::lua
