// `trainrt plugins`: what was loaded (name, version, ABI, path, and every op,
// layer, loader and collective it registered), then what was refused and why,
// then where plugins were searched. Exits 1 when any plugin was refused. Not here: loading itself (plugin/loader.cpp).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "trainrt/plugins.h"

namespace trainrt::cli {
namespace {

void print_list(const char* label, const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  if (items.empty()) std::printf("  %-12s none\n", label);
  else std::printf("  %-12s (%zu) %s\n", label, items.size(), joined.c_str());
}

}  // namespace

int plugins_command(const std::vector<std::string>& args) {
  PreparedRun run = prepare_run(parse_only_run_options("plugins", args));
  const auto& loaded = loaded_plugins();
  std::printf("loaded plugins: %zu\n", loaded.size());
  for (const PluginRecord& p : loaded) {
    std::printf("\n%s %s (ABI %u)\n", p.name.c_str(), p.version.c_str(), p.abi_version);
    if (!p.description.empty()) std::printf("  %-12s %s\n", "description", p.description.c_str());
    std::printf("  %-12s %s\n", "path", p.path.c_str());
    print_list("cpu ops", p.kernels_cpu);
    print_list("cuda ops", p.kernels_cuda);
    print_list("cpu layers", p.layers_cpu);
    print_list("cuda layers", p.layers_cuda);
    print_list("loaders", p.loaders);
    print_list("collectives", p.collectives);
    print_list("devices", p.devices);
  }
  const auto& refused = refused_plugins();
  std::printf("\nrefused plugins: %zu\n", refused.size());
  for (const PluginRefusal& r : refused) std::printf("  %s: %s\n", r.path.c_str(), r.reason.c_str());
  std::printf("\nsearch path:\n");
  for (const std::string& dir : plugin_search_path(run.settings.plugin_paths)) std::printf("  %s\n", dir.c_str());
  // A refusal is an error here (CI and `docker build` steps check this), while a run only warns.
  if (!refused.empty())
    std::fprintf(stderr, "trainrt plugins: %zu plugin%s refused (see above)\n", refused.size(),
                 refused.size() == 1 ? " was" : "s were");
  return refused.empty() ? 0 : 1;
}

}  // namespace trainrt::cli
