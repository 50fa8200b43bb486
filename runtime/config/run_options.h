// The standard run options (--config, --set, --threads, --device, --devices, --seed,
// --quiet, --strategy, --backend, --timeout, --checkpoint-dir, --resume, --metrics-port), accepted before the script and
// after it. Each option other than --config becomes a "key=value" override of
// the run's config, so trainrt.toml, --set and dedicated flags meet in one table. Later issues add options by
// extending run_option_specs() and take_run_option(). Not here: the script's
// own flags (scripts/trainrt/args.lua), subcommands (cli/).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "trainrt/error.h"

namespace trainrt {

// A mistake on the command line: printed as one line, exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

struct RunOptionSpec {
  std::string flag;     // "--threads"
  std::string metavar;  // "N"; empty for a switch
  std::string help;
};
const std::vector<RunOptionSpec>& run_option_specs();

struct RunOptions {
  std::optional<std::string> config_file;
  std::vector<std::string> overrides;  // "key=value", in command-line order
};

// If args[i] is a run option ("--threads 4" or "--threads=4"), records it in
// `out` and returns how many arguments it used; returns 0 for anything else.
// Throws UsageError for a missing or bad value ("--threads expects an integer, got 'x'").
size_t take_run_option(const std::vector<std::string>& args, size_t i, RunOptions& out);

}  // namespace trainrt
