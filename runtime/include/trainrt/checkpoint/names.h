// Tensor names in checkpoint files follow PyTorch: Sequential children and list
// entries count from 0 ("0.weight"), while trainrt's Lua modules count from 1
// ("1.weight"). Every numeric path component is one less in the file; nothing
// else changes. Numeric means canonical decimal ("7", not "07" or "+7").
#pragma once
#include <string>

namespace trainrt::checkpoint {

// "1.weight" -> "0.weight", "blocks.2.conv.1.bias" -> "blocks.1.conv.0.bias".
// Throws Error for a numeric component 0 (a 1-based name has none).
std::string file_name_of(const std::string& lua_name);
// "0.weight" -> "1.weight": the inverse of file_name_of.
std::string lua_name_of(const std::string& file_name);

}  // namespace trainrt::checkpoint
