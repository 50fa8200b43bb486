// trainrt.toml: loading (with file:line:column errors), `--set key=value`
// overrides and the typed run settings the runtime honours (threads, seed,
// device, quiet, plugins.paths). The merged toml::table is what Lua sees as
// trainrt.config. Not here: command-line parsing (run_options.h).
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainrt/error.h"

namespace trainrt::config {

// A bad config file or value; the message starts with where ("trainrt.toml:3:7: error: ...").
class ConfigError : public Error {
 public:
  using Error::Error;
};

inline constexpr const char* kDefaultFile = "trainrt.toml";

// Parses `path`; a syntax error throws ConfigError("path:line:col: error: what").
toml::table load_file(const std::string& path);
// The config of a run: `explicit_path` when given (must exist), else
// ./trainrt.toml when present, else an empty table.
toml::table load(const std::optional<std::string>& explicit_path);

// Applies "a.b.c=value": value parsed as a TOML value (number, bool, string,
// array...), and taken as a plain string when it is not valid TOML.
void apply_override(toml::table& config, const std::string& assignment);

struct RunSettings {
  std::optional<int> threads;
  std::optional<uint64_t> seed;
  std::string device = "cpu";
  bool quiet = false;
  std::vector<std::string> plugin_paths;
  std::string strategy = "single";   // strategy = "ddp" / --strategy
  std::string backend;               // [dist] backend / --backend ("" = the device's default)
  double timeout_s = 300;            // [dist] timeout / --timeout
  std::string rdzv;                  // [dist] rdzv: tcp://, file://, redis:// ("" = MASTER_ADDR:MASTER_PORT)
};
// Reads the settings; a wrong type throws ConfigError, e.g. "config: threads must be an integer >= 1, got 'x'".
RunSettings settings_of(const toml::table& config);

}  // namespace trainrt::config
