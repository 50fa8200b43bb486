// The trainrt subcommands. Each takes the arguments after its name and returns
// the exit code; usage mistakes throw UsageError (exit 2), config mistakes
// ConfigError (exit 2). Not here: dispatch and top-level help (main.cpp).
#pragma once
#include <string>
#include <vector>

#include "config/config.h"
#include "config/run_options.h"

namespace trainrt::cli {

int train_command(const std::vector<std::string>& args);
int launch_command(const std::vector<std::string>& args);
int plugins_command(const std::vector<std::string>& args);
int devices_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int inspect_command(const std::vector<std::string>& args);  // inspect_command.cpp: safetensors files
int check_plugin_command(const std::vector<std::string>& args);  // check_plugin_command.cpp: layer gradients
int serve_command(const std::vector<std::string>& args);  // serve_command.cpp: HTTP predictions (docs/serving.md)
int doctor_command(const std::vector<std::string>& args);  // doctor_command.cpp: preflight checks (doctor.h)

// What every command that runs something does first: load trainrt.toml (or
// --config), apply overrides, apply the settings (log level, threads, seed)
// and load plugins (search path + plugins.paths).
struct PreparedRun {
  toml::table config;
  config::RunSettings settings;
};
PreparedRun prepare_run(const RunOptions& options);

// For commands that take only run options: parses them or throws UsageError.
RunOptions parse_only_run_options(const std::string& command, const std::vector<std::string>& args);

}  // namespace trainrt::cli
