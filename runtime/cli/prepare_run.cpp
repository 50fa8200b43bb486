// Config, settings and plugins for a run (see commands.h: prepare_run).
#include "cli/commands.h"

#include <algorithm>
#include <cstdlib>

#include "trainrt/allocator.h"
#include "trainrt/autocast.h"
#include "trainrt/device.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/log.h"
#include "trainrt/ops/creation.h"
#include "trainrt/plugins.h"
#include "trainrt/stream.h"

namespace trainrt::cli {

PreparedRun prepare_run(const RunOptions& options) {
  PreparedRun run;
  run.config = config::load(options.config_file);
  for (const std::string& assignment : options.overrides) config::apply_override(run.config, assignment);
  run.settings = config::settings_of(run.config);

  if (run.settings.quiet) set_log_level(LogLevel::Warn);
  if (run.settings.threads) set_num_threads(*run.settings.threads);
  // Logical CPU devices (--devices): after threads, which cpu:* counts and each device shares.
  const config::DeviceList& devices = run.settings.devices;
  if (devices.type == DeviceType::CPU)
    set_cpu_device_count(devices.per_thread ? std::min(num_threads(), config::kMaxCpuDevices) : devices.count);
  if (run.settings.seed) manual_seed(*run.settings.seed);
  set_autocast_precision(parse_precision(run.settings.precision));
  // The CUDA plugin reads it at its first cuBLAS/cuDNN call (plugins/ops-cuda/src/cuda_libs.h).
  if (run.settings.cuda_tf32) setenv("TRAINRT_CUDA_TF32", "1", 1);
  load_plugins(run.settings.plugin_paths);
  if (run.settings.plugins_strict) {
    std::vector<PluginRefusal> refused = refused_plugins();
    if (!refused.empty())
      throw UsageError("plugin " + refused[0].path + " was refused: " + refused[0].reason +
                       (refused.size() > 1 ? " (and " + std::to_string(refused.size() - 1) + " more)" : "") +
                       "; [plugins] strict = true makes refusals fatal (run `trainrt plugins` for the list)");
  }
  // Fail before the script builds a model and loads data, not at the first :to(device).
  try {
    check_device_available(Device::parse(run.settings.device));
  } catch (const DeviceUnavailable& e) {
    throw UsageError("--device " + run.settings.device + ": " + e.what());
  }
  if (devices.type != DeviceType::CPU) {
    try {
      int count = devices.all_visible ? device_count(devices.type) : devices.count;
      check_device_available(Device{devices.type, std::max(count, 1) - 1});
      std::vector<Device> list;
      for (int i = 0; i < count; ++i) list.push_back({devices.type, i});
      set_run_devices(std::move(list));
    } catch (const DeviceUnavailable& e) {
      throw UsageError(std::string("--devices: ") + e.what());
    }
  }
  return run;
}

RunOptions parse_only_run_options(const std::string& command, const std::vector<std::string>& args) {
  RunOptions options;
  for (size_t i = 0; i < args.size();) {
    size_t used = take_run_option(args, i, options);
    if (used == 0) throw UsageError("unknown argument '" + args[i] + "' for trainrt " + command);
    i += used;
  }
  return options;
}

}  // namespace trainrt::cli
