// Parsing of a plugin's options string: "key=value;key=value". Keys are
// trimmed; values are taken verbatim after the first '=' (paths may hold '=').
// Header-only, so a plugin that includes it still links nothing of trainrt;
// the loader plugins add plugins/common/include to their include path.
// Deliberately no quoting or escaping: a value cannot contain ';'.
#pragma once
#include <map>
#include <stdexcept>
#include <string>

namespace trt_plugin_util {

namespace detail {
inline std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
}  // namespace detail

// Throws std::runtime_error("bad option 'x' (expected key=value)") on a part
// without '=' or with an empty key.
inline std::map<std::string, std::string> parse_options(const std::string& options) {
  using detail::trim;
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= options.size()) {
    size_t end = options.find(';', start);
    if (end == std::string::npos) end = options.size();
    std::string part = trim(options.substr(start, end - start));
    start = end + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string::npos || trim(part.substr(0, eq)).empty())
      throw std::runtime_error("bad option '" + part + "' (expected key=value)");
    out[trim(part.substr(0, eq))] = trim(part.substr(eq + 1));
  }
  return out;
}

}  // namespace trt_plugin_util
