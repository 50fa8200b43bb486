// dlopen-based plugin loading: checks in the order a user can act on them
// (is it an ELF shared object for this machine and whole, does it load, has it
// the entry symbol, is the ABI ours, did init succeed, does it register only
// names nobody else has), stages what a plugin registers and keeps it only
// when every check passed. Loads are serialised; lookups take a short lock, so
// they are safe while another thread loads a plugin.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "host_api.h"
#include "plugin/elf_check.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/log.h"
#include "trainrt/plugins.h"

namespace trainrt {
namespace fs = std::filesystem;
namespace {

struct State {
  std::mutex load_mutex;      // one load at a time (held across dlopen and init)
  std::mutex registry_mutex;  // everything below; held only for lookups and commits
  std::vector<PluginRecord> loaded;
  std::vector<PluginRefusal> refused;
  std::map<std::string, bool> tried;  // canonical path -> loaded?
  // Entries are added, never replaced or erased, so pointers handed out stay valid.
  std::map<std::string, trt_loader_def> loaders;
  std::map<std::pair<std::string, int32_t>, trt_layer_def> layers;
  std::map<std::pair<std::string, int32_t>, PendingLayer> layer_storage;  // what layers[...].attrs points into
  std::map<std::string, CollectiveBackend> collectives;
  std::map<std::string, std::string> loader_owner;                        // name -> plugin
  std::map<std::pair<std::string, int32_t>, std::string> layer_owner;     // (name, device) -> plugin
};

State& state() {
  static State s;
  return s;
}

// Looks for trt_plugin_init_v<N> with N != ours, to say which ABI a plugin was built for.
int other_abi_version(void* handle) {
  for (int v = 0; v < 64; ++v) {
    if (v == TRT_PLUGIN_ABI_VERSION) continue;
    std::string symbol = "trt_plugin_init_v" + std::to_string(v);
    if (dlsym(handle, symbol.c_str())) return v;
  }
  return -1;
}

bool refuse(const std::string& path, const std::string& reason, void* handle = nullptr) {
  if (handle) dlclose(handle);
  log(LogLevel::Warn, "refused plugin " + path + ": " + reason);
  std::lock_guard lock(state().registry_mutex);
  state().refused.push_back({path, reason});
  return false;
}

std::string device_name(int32_t device_type) {
  return device_type == TRT_DEVICE_CUDA ? "cuda" : device_type == TRT_DEVICE_CPU ? "cpu" : std::to_string(device_type);
}

std::string owner_text(const std::string& owner) {
  for (const PluginRecord& p : state().loaded)
    if (p.name == owner) return "plugin '" + owner + "' (" + p.path + ")";
  return "plugin '" + owner + "'";
}

// The first name this plugin registers twice itself, or that another plugin
// registered already; "" when every name is new. Called with registry_mutex held.
std::string find_conflict(const std::string& plugin, const PendingRegistrations& pending) {
  auto twice = [&](const std::string& what) {
    return "plugin '" + plugin + "' registers " + what + " twice; register each name once";
  };
  auto taken = [&](const std::string& what, const std::string& owner) {
    return "plugin '" + plugin + "' registers " + what + ", which " + owner_text(owner) +
           " registered already; remove one of the two plugins from the plugin path";
  };
  std::set<std::pair<std::string, int32_t>> kernels, layers;
  std::set<std::string> loaders, collectives;
  for (const auto& k : pending.kernels) {
    std::string what = "kernel '" + k.op + "' for " + device_name(k.device_type);
    if (!kernels.insert({k.op, k.device_type}).second) return twice(what);
    std::string owner = kernel_owner(k.op, static_cast<DeviceType>(k.device_type));
    if (!owner.empty()) return taken(what, owner);
  }
  for (const auto& l : pending.layers) {
    std::string what = "layer '" + l.name + "' for " + device_name(l.def.device_type);
    if (!layers.insert({l.name, l.def.device_type}).second) return twice(what);
    if (auto it = state().layer_owner.find({l.name, l.def.device_type}); it != state().layer_owner.end())
      return taken(what, it->second);
  }
  for (const auto& l : pending.loaders) {
    std::string what = "data loader '" + l.name + "'";
    if (!loaders.insert(l.name).second) return twice(what);
    if (auto it = state().loader_owner.find(l.name); it != state().loader_owner.end()) return taken(what, it->second);
  }
  for (const auto& c : pending.collectives) {
    std::string what = "collective backend '" + c.name + "'";
    if (!collectives.insert(c.name).second) return twice(what);
    if (auto it = state().collectives.find(c.name); it != state().collectives.end()) return taken(what, it->second.plugin);
  }
  for (const auto& d : pending.devices) {
    std::string what = "device type '" + device_name(d.device_type) + "'";
    if (&d != &pending.devices.front()) return twice(what);
    std::string owner = device_backend_plugin(static_cast<DeviceType>(d.device_type));
    if (!owner.empty()) return taken(what, owner);
  }
  return "";
}

// Called with registry_mutex held, after find_conflict found none.
void commit(const std::string& plugin_name, PendingRegistrations& pending, PluginRecord& record) {
  for (const auto& k : pending.kernels) {
    register_kernel(k.op, static_cast<DeviceType>(k.device_type), k.fn, plugin_name);
    (k.device_type == TRT_DEVICE_CUDA ? record.kernels_cuda : record.kernels_cpu).push_back(k.op);
  }
  for (const auto& l : pending.layers) {
    // Keyed by the name copied at registration; def.name then points at that copy,
    // since the plugin's string need not outlive init.
    auto [it, inserted] = state().layers.emplace(std::make_pair(l.name, l.def.device_type), l.def);
    it->second.name = it->first.first.c_str();
    PendingLayer& stored = state().layer_storage.emplace(it->first, l).first->second;
    for (size_t i = 0; i < stored.attrs.size(); ++i) stored.attrs[i].name = stored.attr_names[i].c_str();
    it->second.attrs = stored.attrs.empty() ? nullptr : stored.attrs.data();
    state().layer_owner[{l.name, l.def.device_type}] = plugin_name;
    (l.def.device_type == TRT_DEVICE_CUDA ? record.layers_cuda : record.layers_cpu).push_back(l.name);
  }
  for (const auto& l : pending.loaders) {
    state().loaders.emplace(l.name, l.def);
    state().loader_owner[l.name] = plugin_name;
    record.loaders.push_back(l.name);
  }
  for (const auto& c : pending.collectives) {
    state().collectives.emplace(
        c.name, CollectiveBackend{c.name, static_cast<DeviceType>(c.device_type), c.backend, plugin_name});
    record.collectives.push_back(c.name);
  }
  for (const auto& d : pending.devices) {
    register_device_backend(static_cast<DeviceType>(d.device_type), d.backend, plugin_name);
    record.devices.push_back(d.name);
  }
}

}  // namespace

std::string default_plugin_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&default_plugin_dir), &info) && info.dli_fname) {
    fs::path lib = fs::weakly_canonical(fs::path(info.dli_fname));
    return (lib.parent_path() / "trainrt" / "plugins").string();
  }
  return "";
}

std::vector<std::string> plugin_search_path(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  if (const char* env = std::getenv("TRAINRT_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) out.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  if (std::string dir = default_plugin_dir(); !dir.empty()) out.push_back(dir);
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

bool load_plugin_file(const std::string& path) {
  std::lock_guard load_lock(state().load_mutex);
  std::error_code ec;
  std::string canonical = fs::weakly_canonical(path, ec).string();
  if (ec) canonical = path;
  {
    std::lock_guard lock(state().registry_mutex);
    if (auto it = state().tried.find(canonical); it != state().tried.end()) return it->second;
    state().tried[canonical] = false;
  }

  if (!fs::exists(path, ec)) return refuse(path, "file does not exist");
  if (std::string bad = check_elf_plugin_file(path); !bad.empty()) return refuse(path, bad);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return refuse(path, std::string("cannot be loaded: ") + dlerror());

  auto init = reinterpret_cast<trt_plugin_init_fn>(dlsym(handle, "trt_plugin_init_v" TRT_PLUGIN_ABI_STRING));
  if (!init) {
    int other = other_abi_version(handle);
    if (other >= 0)
      return refuse(path,
                    "ABI version mismatch: plugin built for ABI " + std::to_string(other) + ", this trainrt speaks ABI " +
                        std::to_string(TRT_PLUGIN_ABI_VERSION) + "; rebuild the plugin against this trainrt",
                    handle);
    return refuse(path, "missing entry symbol trt_plugin_init_v" TRT_PLUGIN_ABI_STRING
                        " (define it with TRT_PLUGIN_EXPORT in the plugin)", handle);
  }

  PendingRegistrations pending;
  trt_host_api host = make_host_api(&pending);
  trt_plugin_info info{};
  info.struct_size = sizeof(info);
  char error[512] = {0};
  trt_status status = TRT_ERR_INTERNAL;
  try {
    status = init(&host, &info, error, sizeof(error));
  } catch (...) {
    return refuse(path, "init threw a C++ exception across the plugin boundary; catch it inside the plugin", handle);
  }
  if (info.abi_version != TRT_PLUGIN_ABI_VERSION)
    return refuse(path,
                  "ABI version mismatch: plugin built for ABI " + std::to_string(info.abi_version) +
                      ", this trainrt speaks ABI " + std::to_string(TRT_PLUGIN_ABI_VERSION) +
                      "; rebuild the plugin against this trainrt",
                  handle);
  if (status != TRT_OK)
    return refuse(path, std::string("init failed: ") + (error[0] ? error : "no message (status " + std::to_string(status) + ")"),
                  handle);
  if (!pending.error.empty()) return refuse(path, "init failed: " + pending.error, handle);

  std::string name = info.name ? info.name : fs::path(path).stem().string();
  PluginRecord record;
  std::string conflict;
  {
    std::lock_guard lock(state().registry_mutex);
    for (const auto& other : state().loaded)
      if (other.name == name) conflict = "a plugin named '" + name + "' is already loaded from " + other.path;
    if (conflict.empty()) conflict = find_conflict(name, pending);
    if (conflict.empty()) {
      record.name = name;
      record.version = info.version ? info.version : "";
      record.description = info.description ? info.description : "";
      record.path = canonical;
      record.abi_version = info.abi_version;
      commit(name, pending, record);
      state().loaded.push_back(record);
      state().tried[canonical] = true;
    }
  }
  // A plugin whose init ran stays mapped even when refused here: init may have
  // started threads or handed out pointers into it.
  if (!conflict.empty()) return refuse(path, conflict);
  log(LogLevel::Debug, "loaded plugin " + name + " from " + canonical);
  return true;  // never dlclose'd: registered function pointers live in it
}

void load_plugins(const std::vector<std::string>& extra) {
  // Idle worker threads of the libraries the CPU plugin loads must sleep, not
  // spin: oneDNN's OpenMP workers, OpenBLAS's pthreads and the plugin's own pool
  // otherwise fight over the cores between calls (at 2 threads on 2 cores conv2
  // forward fell from 44 to 9 GFLOP/s; the CNN step ran 20-30% slower with
  // OpenBLAS's default spin of 2^28 cycles). Both libraries read these once,
  // when a plugin first loads them, so they are set here; a user's setting wins.
  setenv("OMP_WAIT_POLICY", "passive", /*overwrite=*/0);
  setenv("OPENBLAS_THREAD_TIMEOUT", "4", /*overwrite=*/0);
  for (const std::string& entry : plugin_search_path(extra)) {
    std::error_code ec;
    if (fs::is_directory(entry, ec)) {
      std::vector<std::string> files;
      for (const auto& f : fs::directory_iterator(entry, ec))
        if (f.is_regular_file() && f.path().extension() == ".so") files.push_back(f.path().string());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) load_plugin_file(f);
    } else if (fs::exists(entry, ec)) {
      load_plugin_file(entry);
    } else {
      log(LogLevel::Debug, "plugin path " + entry + " does not exist; skipped");
    }
  }
}

std::vector<PluginRecord> loaded_plugins() {
  std::lock_guard lock(state().registry_mutex);
  return state().loaded;
}

std::vector<PluginRefusal> refused_plugins() {
  std::lock_guard lock(state().registry_mutex);
  return state().refused;
}

const trt_loader_def* find_loader(const std::string& name) {
  std::lock_guard lock(state().registry_mutex);
  auto it = state().loaders.find(name);
  return it == state().loaders.end() ? nullptr : &it->second;
}

const trt_layer_def* find_layer(const std::string& name, int32_t device_type) {
  std::lock_guard lock(state().registry_mutex);
  auto it = state().layers.find({name, device_type});
  return it == state().layers.end() ? nullptr : &it->second;
}

const CollectiveBackend* find_collective(const std::string& name) {
  std::lock_guard lock(state().registry_mutex);
  auto it = state().collectives.find(name);
  return it == state().collectives.end() ? nullptr : &it->second;
}

std::vector<std::string> collective_names() {
  std::lock_guard lock(state().registry_mutex);
  std::vector<std::string> out;
  for (const auto& [name, backend] : state().collectives) out.push_back(name);
  return out;
}

std::vector<std::string> loader_names() {
  std::lock_guard lock(state().registry_mutex);
  std::vector<std::string> out;
  for (const auto& [name, def] : state().loaders) out.push_back(name);
  return out;
}

}  // namespace trainrt
