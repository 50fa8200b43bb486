// `trainrt devices`: the devices this run could use, nvidia-smi -L style:
// the CPU (with the threads setting) and CUDA when a plugin provides it.
// The plugin ABI has no device-count query yet, so CUDA is reported by the
// plugin that provides it. Not here: device selection (--device).
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "trainrt/allocator.h"
#include "trainrt/dispatch.h"
#include "trainrt/plugins.h"

namespace trainrt::cli {

int devices_command(const std::vector<std::string>& args) {
  prepare_run(parse_only_run_options("devices", args));
  std::printf("cpu:0  %u hardware threads, using %d (--threads)\n", std::thread::hardware_concurrency(), num_threads());
  std::string provider;
  for (const PluginRecord& p : loaded_plugins())
    if (!p.kernels_cuda.empty()) provider = p.name;
  if (provider.empty()) {
    std::printf("cuda: not available (no ops-cuda plugin)\n");
  } else {
    std::printf("cuda: provided by plugin %s (%zu ops)%s\n", provider.c_str(), kernels_for(DeviceType::CUDA).size(),
                has_allocator(DeviceType::CUDA) ? "" : "; no CUDA allocator registered (no GPU found?)");
  }
  return 0;
}

}  // namespace trainrt::cli
