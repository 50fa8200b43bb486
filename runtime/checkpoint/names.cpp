// Lua (1-based) <-> file (0-based, PyTorch) tensor names; see trainrt/checkpoint/names.h.
#include "trainrt/checkpoint/names.h"

#include <cstdint>

#include "trainrt/error.h"

namespace trainrt::checkpoint {
namespace {

// Canonical decimal that fits in 18 digits: "0", "7", "42"; not "", "07", "1e3".
bool is_index(const std::string& part) {
  if (part.empty() || part.size() > 18 || (part.size() > 1 && part[0] == '0')) return false;
  for (char c : part)
    if (c < '0' || c > '9') return false;
  return true;
}

// Applies shift (+1 or -1) to every numeric component of a dotted name.
std::string shift_indices(const std::string& name, int shift) {
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (is_index(part)) {
      int64_t value = std::stoll(part) + shift;
      TRT_CHECK(value >= 0, "checkpoint: tensor name '", name,
                "' has a numeric component 0, but Lua modules count children from 1");
      part = std::to_string(value);
    }
    out += part;
    if (dot == std::string::npos) return out;
    out += '.';
    start = dot + 1;
  }
}

}  // namespace

std::string file_name_of(const std::string& lua_name) { return shift_indices(lua_name, -1); }
std::string lua_name_of(const std::string& file_name) { return shift_indices(file_name, +1); }

}  // namespace trainrt::checkpoint
