// `trainrt train [run options] SCRIPT.lua [script args...]`: run options are
// taken before the script and anywhere after it (except after a bare `--`),
// everything else after the script is the script's (see trainrt.args).
// Not here: the Lua state (lua/state.cpp), the script's flags (args.lua).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "lua/state.h"
#include "metrics/settings.h"

namespace trainrt::cli {
namespace {

void print_train_usage() {
  std::printf("usage: trainrt train [run options] SCRIPT.lua [script options...]\n"
              "       trainrt SCRIPT.lua [script options...]\n\n"
              "Runs a Lua training script. Run options may also follow the script;\n"
              "`trainrt SCRIPT.lua --help` lists the script's own options.\n\nrun options:\n");
  for (const RunOptionSpec& spec : run_option_specs()) {
    std::string left = spec.flag + (spec.metavar.empty() ? "" : " " + spec.metavar);
    std::printf("  %-26s %s\n", left.c_str(), spec.help.c_str());
  }
}

std::string run_option_list() {
  std::string list;
  for (const RunOptionSpec& spec : run_option_specs()) list += (list.empty() ? "" : ", ") + spec.flag;
  return list;
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  RunOptions options;
  lua::RunContext context;
  size_t i = 0;
  while (i < args.size() && context.script.empty()) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      print_train_usage();
      return 0;
    }
    if (size_t used = take_run_option(args, i, options)) {
      i += used;
      continue;
    }
    if (a.size() > 1 && a[0] == '-')
      throw UsageError("unknown option " + a + " for trainrt train (run options: " + run_option_list() + ")");
    context.script = a;
    ++i;
  }
  if (context.script.empty()) throw UsageError("train: missing SCRIPT.lua (usage: trainrt train [options] SCRIPT.lua)");
  while (i < args.size()) {
    if (args[i] == "--") {  // the rest belongs to the script verbatim
      context.script_args.insert(context.script_args.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (size_t used = take_run_option(args, i, options)) {
      i += used;
      continue;
    }
    context.script_args.push_back(args[i++]);
  }
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(context.script, ec);
  if (std::filesystem::is_directory(status))
    throw UsageError("cannot run script '" + context.script + "': it is a directory, expected a .lua file");
  if (!std::filesystem::exists(status)) throw UsageError("cannot open script '" + context.script + "': no such file");
  if (!std::filesystem::is_regular_file(status))
    throw UsageError("cannot run script '" + context.script + "': not a regular file, expected a .lua file");

  PreparedRun run = prepare_run(options);
  // --metrics-port / [metrics] port: served from before the script starts until it ends.
  std::unique_ptr<metrics::Endpoint> metrics_endpoint;
  if (metrics::EndpointSettings m = metrics::endpoint_settings_of(run.config); m.port >= 0)
    metrics_endpoint = std::make_unique<metrics::Endpoint>(m, context.script);
  context.config = std::move(run.config);
  context.device = run.settings.device;
  context.quiet = run.settings.quiet;
  lua::LuaState state;
  return state.run_script(context);
}

}  // namespace trainrt::cli
