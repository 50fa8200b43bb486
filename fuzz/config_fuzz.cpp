// Fuzzes what trainrt does with a trainrt.toml and --set overrides
// (config/config.cpp): the input is TOML text, optionally followed by a line
// "--- key=value" per override. toml++ parses; this checks our side: the
// overrides and the typed settings either apply or throw a ConfigError with a
// message, never crash or throw anything else.
#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string toml_text = text, overrides;
  if (size_t cut = text.find("\n---"); cut != std::string::npos) {
    toml_text = text.substr(0, cut);
    overrides = text.substr(cut + 4);
  }
  toml::table config;
  try {
    config = toml::parse(toml_text);
  } catch (const toml::parse_error&) {
    return 0;  // toml++'s own error, reported with file:line:column by config::load_file
  }
  try {
    std::istringstream lines(overrides);
    std::string assignment;
    while (std::getline(lines, assignment))
      if (!assignment.empty()) trainrt::config::apply_override(config, assignment);
    trainrt::config::settings_of(config);
  } catch (const trainrt::config::ConfigError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  } catch (const trainrt::Error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
