// `trainrt bench [run options] [bench options]`: runs the shipped benchmark
// script (scripts/trainrt/bench.lua) through the same path as `trainrt train`,
// so what it measures is what a training run pays. `trainrt bench ddp ...`
// runs scripts/trainrt/bench_ddp.lua (DDP scaling against one process);
// `trainrt bench async|mirrored ...` runs scripts/trainrt/bench_devices.lua
// (queued against synchronous kernels; mirrored replicas against one device).
#include <filesystem>

#include "cli/commands.h"
#include "lua/state.h"

namespace trainrt::cli {

int bench_command(const std::vector<std::string>& args) {
  std::string which = args.empty() ? "" : args[0];
  bool ddp = which == "ddp", devices = which == "async" || which == "mirrored";
  std::string name = ddp ? "bench_ddp.lua" : devices ? "bench_devices.lua" : "bench.lua";
  std::string script = (std::filesystem::path(lua::builtin_scripts_dir()) / "trainrt" / name).string();
  std::vector<std::string> train_args{script};
  if (devices) train_args.insert(train_args.end(), {"--what", which});
  train_args.insert(train_args.end(), args.begin() + (ddp || devices ? 1 : 0), args.end());
  return train_command(train_args);
}

}  // namespace trainrt::cli
