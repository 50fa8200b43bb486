// Plugin discovery and loading. A plugin is a shared object exporting
// trt_plugin_init_v<ABI>; it registers kernels, layers, loaders and collectives
// through the host API. A refused plugin (not an ELF shared object for this
// machine, cut short, no entry symbol, ABI mismatch, failed init, a name that
// another plugin registered already) is reported in one line and the run goes
// on. Every function here is safe to call while another thread loads a plugin.
#pragma once
#include <string>
#include <vector>

#include "trainrt/device.h"
#include "trainrt/plugin_abi.h"

namespace trainrt {

struct PluginRecord {
  std::string name, version, description, path;
  uint32_t abi_version = 0;
  std::vector<std::string> kernels_cpu, kernels_cuda, layers_cpu, layers_cuda, loaders, collectives, devices;
};

struct PluginRefusal {
  std::string path, reason;
};

// Directories searched, in order: TRAINRT_PLUGIN_PATH (':'-separated files or
// folders), the folder beside libtrainrt (lib/trainrt/plugins, build and install
// trees alike), then `extra` (e.g. trainrt.toml's plugins.paths).
std::vector<std::string> plugin_search_path(const std::vector<std::string>& extra = {});
std::string default_plugin_dir();

// Loads every plugin on the search path once; later calls only add new paths.
void load_plugins(const std::vector<std::string>& extra = {});
// Loads one file. Returns false (and records + logs the refusal) when refused.
bool load_plugin_file(const std::string& path);

// Snapshots (copies), so a concurrent load cannot invalidate them.
std::vector<PluginRecord> loaded_plugins();
std::vector<PluginRefusal> refused_plugins();

// A collective backend a plugin registered (its table copied by the host).
struct CollectiveBackend {
  std::string name;  // "gloo"
  DeviceType device_type;
  trt_collective_backend table;
  std::string plugin;
};

// Lookups of what plugins registered (null when absent). A name is registered
// once and never replaced, so a returned pointer stays valid for the process.
const trt_loader_def* find_loader(const std::string& name);
const trt_layer_def* find_layer(const std::string& name, int32_t device_type);
std::vector<std::string> loader_names();
const CollectiveBackend* find_collective(const std::string& name);
std::vector<std::string> collective_names();

}  // namespace trainrt
