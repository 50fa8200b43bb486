// trainrt: the command-line entry point. Dispatches to subcommands (train,
// launch, plugins, check-plugin, devices, bench, inspect, doctor, serve, version); `trainrt SCRIPT.lua ...` is short for
// `trainrt train SCRIPT.lua ...` as `th train.lua` was in Torch7. Prints a
// failure as one line: usage and config mistakes exit 2, runtime errors 1.
// Hand-rolled rather than CLI11: run options must be accepted after the
// script, mixed with the script's own flags, which CLI11 does not model.
#include <lua.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trainrt/plugin_abi.h"
#include "trainrt/stream.h"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: trainrt <command> [args]\n"
               "       trainrt SCRIPT.lua [args]      (short for: trainrt train SCRIPT.lua [args])\n\n"
               "commands:\n"
               "  train         run a Lua training script (trainrt train --help)\n"
               "  launch        run a script on N worker processes, like torchrun (trainrt launch --help)\n"
               "  plugins       list loaded and refused plugins with what they provide\n"
               "  check-plugin  check a plugin's layers: gradients, strided inputs, devices (trainrt check-plugin --help)\n"
               "  devices       list the devices a run can use\n"
               "  bench         measure training throughput against this machine's sgemm rate (trainrt bench --help)\n"
               "  inspect       list the tensors and metadata of a safetensors file or checkpoint (trainrt inspect FILE [--json])\n"
               "  doctor        check GPUs, libraries, /dev/shm, memlock, network and MASTER_PORT before a run (trainrt doctor --help)\n"
               "  serve         answer predictions of a trained model over HTTP (trainrt serve --help)\n"
               "  version       print the version\n");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int dispatch(const std::vector<std::string>& args) {
  using namespace trainrt::cli;
  if (args.empty()) {
    print_usage(stderr);
    return 2;
  }
  const std::string& command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    print_usage(stdout);
    return 0;
  }
  if (command == "version" || command == "--version") {
    std::printf("trainrt %s (plugin ABI %d, %s)\n", TRAINRT_VERSION, TRT_PLUGIN_ABI_VERSION, LUA_RELEASE);
    return 0;
  }
  if (command == "train") return train_command(rest);
  if (command == "launch") return launch_command(rest);
  if (command == "plugins") return plugins_command(rest);
  if (command == "check-plugin") return check_plugin_command(rest);
  if (command == "devices") return devices_command(rest);
  if (command == "bench") return bench_command(rest);
  if (command == "inspect") return inspect_command(rest);
  if (command == "serve") return serve_command(rest);
  if (command == "doctor") return doctor_command(rest);
  trainrt::RunOptions probe;
  if (ends_with(command, ".lua") || trainrt::take_run_option(args, 0, probe) > 0) return train_command(args);
  throw trainrt::UsageError("unknown command '" + command +
                            "' (commands: train, launch, plugins, check-plugin, devices, bench, inspect, doctor, serve, version; or a SCRIPT.lua to train)");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The device queues' threads stop before static destructors run: a kernel
  // still running then would use libraries (oneDNN) already torn down.
  struct StopQueues {
    ~StopQueues() { trainrt::shutdown_queues(); }
  } stop_queues;
  try {
    return dispatch(args);
  } catch (const trainrt::config::ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const trainrt::UsageError& e) {
    std::fprintf(stderr, "trainrt: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trainrt: error: %s\n", e.what());
    return 1;
  }
}
