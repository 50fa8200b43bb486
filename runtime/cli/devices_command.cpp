// `trainrt devices`: the devices this run could use, nvidia-smi -L style:
// the CPU (with the threads setting) and its logical devices cpu:0 ... cpu:N-1
// (--devices) with each one's share of the threads; then every visible GPU
// (index, name, UUID, memory, compute capability, and the physical GPU that
// CUDA_VISIBLE_DEVICES maps it to), or one line saying plainly why there is none.
// Exits 0 either way: having no GPU is a fact, not an error (`--device cuda`
// is where it fails).
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "trainrt/devices.h"
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
  VisibleDevices visible = visible_devices_from_env();
  std::string plugin = device_backend_plugin(DeviceType::CUDA);
  if (plugin.empty()) {
    std::printf("cuda: not available: no plugin provides it (the ops-cuda plugin is built only where nvcc exists)\n");
    return 0;
  }
  int gpus = device_count(DeviceType::CUDA);
  if (gpus == 0) {
    std::printf("cuda: no CUDA device visible (CUDA_VISIBLE_DEVICES=%s, %s); plugin %s, %zu ops\n", visible.text.c_str(),
                no_device_reason(DeviceType::CUDA).c_str(), plugin.c_str(), kernels_for(DeviceType::CUDA).size());
    return 0;
  }
  std::printf("cuda: %d device%s visible (CUDA_VISIBLE_DEVICES=%s); plugin %s, %zu ops\n", gpus, gpus == 1 ? "" : "s",
              visible.text.c_str(), plugin.c_str(), kernels_for(DeviceType::CUDA).size());
  for (int i = 0; i < gpus; ++i) {
    DeviceProperties p = device_properties(Device{DeviceType::CUDA, i});
    std::printf("cuda:%d  %s (UUID: %s)  %s total, %s free  compute %d.%d  %d SMs\n", i, p.name.c_str(), p.uuid.c_str(),
                format_bytes(p.total_memory).c_str(), format_bytes(p.free_memory).c_str(), p.compute_major,
                p.compute_minor, p.multiprocessors);
    if (i == 0)
      std::printf("        driver %d.%d, runtime %d.%d\n", p.driver_version / 1000, p.driver_version % 1000 / 10,
                  p.runtime_version / 1000, p.runtime_version % 1000 / 10);
  }
  if (visible.set)
    std::printf("CUDA_VISIBLE_DEVICES=%s: cuda:N is the N-th entry of that list (index or UUID)\n", visible.text.c_str());
  return 0;
}

}  // namespace trainrt::cli
