// `trainrt devices`: the devices this run could use, nvidia-smi -L style:
// the CPU (with the threads setting), its logical devices cpu:0 ... cpu:N-1
// (--devices) with each one's share of the threads, and CUDA when a plugin
// provides it.
// The plugin ABI has no device-count query yet, so CUDA is reported by the
// plugin that provides it. Not here: device selection (--device).
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "trainrt/allocator.h"
#include "trainrt/dispatch.h"
#include "trainrt/plugins.h"
#include "trainrt/stream.h"

namespace trainrt::cli {

int devices_command(const std::vector<std::string>& args) {
  prepare_run(parse_only_run_options("devices", args));
  int count = cpu_device_count();
  std::printf("cpu: %u hardware threads, using %d (--threads), %d logical device%s (--devices)\n",
              std::thread::hardware_concurrency(), num_threads(), count, count == 1 ? "" : "s");
  for (int i = 0; i < count; ++i) {
    int threads = threads_for(Device{DeviceType::CPU, i});
    std::printf("cpu:%d  %d thread%s\n", i, threads, threads == 1 ? "" : "s");
  }
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
