// Parsing of a loader's options string: "key=value;key=value". Keys are
// trimmed; values are taken verbatim after the first '=' (paths may hold '=').
// Deliberately no quoting or escaping: a value cannot contain ';'.
#pragma once
#include <map>
#include <string>

namespace trt_loader {

// Throws std::runtime_error("bad option 'x' (expected key=value)") on a part
// without '=' or with an empty key.
std::map<std::string, std::string> parse_options(const std::string& options);

}  // namespace trt_loader
