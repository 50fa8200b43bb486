// What /v1/model reports about the served model; filled in by ServedModel
// (model_loader.h). Kept apart so the HTTP side does not see the Lua state.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "trainrt/shape.h"

namespace trainrt::serve {

struct ModelInfo {
  std::string model_path;
  std::string checkpoint_path;  // the file loaded (the newest checkpoint when given a directory)
  std::string prefix;           // the name prefix stripped from the file's tensors ("" when none)
  std::optional<Shape> input_shape;  // one sample's shape, when the model file declares it
  int64_t parameters = 0;
  std::string device;
};

}  // namespace trainrt::serve
