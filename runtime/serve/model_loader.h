// The model `trainrt serve` answers with: a Lua state that ran
// scripts/trainrt/serve.lua on the model file (a module, a function building
// one, or {model=, input_shape=, prefix=}) and loaded the checkpoint's weights.
// forward() calls into that state, so one thread at a time (the batcher's).
// Not here: batching, HTTP.
#pragma once
#include <string>

#include "lua/state.h"
#include "serve/model_info.h"
#include "trainrt/tensor.h"

namespace trainrt::serve {

class ServedModel {
 public:
  // Loads the model and its weights; throws trainrt::Error with one line
  // naming the file on failure. run.script is the model file.
  ServedModel(const lua::RunContext& run, const std::string& checkpoint, bool checkpoint_is_dir);
  ~ServedModel();
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  const ModelInfo& info() const { return info_; }
  // x: (N, ...) float32 on the CPU -> the model's output (N, ...) float32, contiguous, on the CPU.
  Tensor forward(const Tensor& x);

 private:
  lua::LuaState state_;
  int forward_ref_ = -1;  // LUA_REGISTRYINDEX reference to the Lua forward function
  ModelInfo info_;
};

}  // namespace trainrt::serve
