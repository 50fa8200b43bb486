// trainrt.toml: loading (with file:line:column errors), `--set key=value`
// overrides and the typed run settings the runtime honours (threads, seed,
// device, devices, quiet, strict, plugins.paths, [dist], [ddp]). Every value remembers
// where it came from (toml::node::source(): the file and line, or
// "--set KEY=VALUE"), so errors name it. The merged toml::table is what Lua
// sees as trainrt.config. Not here: command-line parsing (run_options.h), the
// list of known keys (known_keys.h).
#pragma once
#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trainrt/device.h"
#include "trainrt/error.h"

namespace trainrt::config {

// A bad config file or value; the message starts with where ("trainrt.toml:3:7: error: ...").
class ConfigError : public Error {
 public:
  using Error::Error;
};

inline constexpr const char* kDefaultFile = "trainrt.toml";

// Largest config file accepted (a trainrt.toml is a few lines).
inline constexpr uintmax_t kMaxConfigBytes = uintmax_t(16) << 20;
// Most dots in a --set key ("a.b.c" has 3 parts).
inline constexpr size_t kMaxKeyParts = 32;

// Parses `path`; a syntax error throws ConfigError("path:line:col: error: what"),
// as do a missing file, a folder, a non-regular file and one over kMaxConfigBytes.
toml::table load_file(const std::string& path);
// Parses TOML text; `source_name` stands for the path in errors and in the
// values' source(). No file system access, so it can be fuzzed.
toml::table parse_text(std::string_view text, const std::string& source_name);
// The config of a run: `explicit_path` when given (must exist), else
// ./trainrt.toml when present, else an empty table.
toml::table load(const std::optional<std::string>& explicit_path);

// Applies "a.b.c=value": value parsed as a TOML value (number, bool, string,
// array...), and taken as a plain string when it is not valid TOML. The value's
// source() is "--set a.b.c=value".
void apply_override(toml::table& config, const std::string& assignment);

// The logical CPU devices of a run (--devices / `devices = ...`): cpu:0 ... cpu:count-1.
struct DeviceList {
  DeviceType type = DeviceType::CPU;
  int count = 1;
  bool per_thread = false;  // "cpu:*": one device per thread, counted once `threads` is applied
  bool all_visible = false; // "cuda:*": every visible GPU, counted once plugins are loaded
};
inline constexpr int kMaxCpuDevices = 256;  // set_cpu_device_count's limit (stream.h)
// Parses "cpu:0,cpu:1" (cpu:0 ... cpu:N-1, in that order), "cpu:*", a count
// "2", or the same for GPUs: "cuda:0,cuda:1", "cuda:*". Throws Error saying what is wrong, without naming the flag or the key.
DeviceList parse_devices(const std::string& spec);

struct RunSettings {
  std::optional<int> threads;
  std::optional<uint64_t> seed;
  std::string device = "cpu";
  bool quiet = false;
  std::vector<std::string> plugin_paths;
  bool cuda_tf32 = false;            // [cuda] tf32 = true: cuBLAS/cuDNN may use TF32 for float32 (TRAINRT_CUDA_TF32)
  bool plugins_strict = false;       // [plugins] strict = true: a refused plugin stops the run
  std::string strategy = "single";   // strategy = "ddp" / --strategy
  std::string backend;               // [dist] backend / --backend ("" = the device's default)
  double timeout_s = 300;            // [dist] timeout / --timeout
  std::string rdzv;                  // [dist] rdzv: tcp://, file://, redis:// ("" = MASTER_ADDR:MASTER_PORT)
  bool strict = false;               // strict = true: unknown keys are errors, not warnings
  DeviceList devices;                // devices = "cpu:0,cpu:1" / ["cpu:0", "cpu:1"] / "cpu:*" / 2, or --devices
  std::string precision = "fp32";    // precision = "bf16" / --precision: autocast (trainrt/autocast.h)
};
// Reads and checks the settings. A wrong type or value throws ConfigError
// naming its source, e.g. "trainrt.toml:1: error: threads must be an integer
// between 1 and 1024, got 'x'". Unknown keys (known_keys.h) are logged as
// warnings, or thrown as one ConfigError when `strict = true`.
RunSettings settings_of(const toml::table& config);

}  // namespace trainrt::config
