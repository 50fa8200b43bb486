// `trainrt bench [run options] [bench options]`: runs the shipped benchmark
// script (scripts/trainrt/bench.lua) through the same path as `trainrt train`,
// so what it measures is what a training run pays. `trainrt bench ddp ...`
// runs scripts/trainrt/bench_ddp.lua (DDP scaling against one process).
#include <filesystem>

#include "cli/commands.h"
#include "lua/state.h"

namespace trainrt::cli {

int bench_command(const std::vector<std::string>& args) {
  bool ddp = !args.empty() && args[0] == "ddp";
  std::string name = ddp ? "bench_ddp.lua" : "bench.lua";
  std::string script = (std::filesystem::path(lua::builtin_scripts_dir()) / "trainrt" / name).string();
  std::vector<std::string> train_args{script};
  train_args.insert(train_args.end(), args.begin() + (ddp ? 1 : 0), args.end());
  return train_command(train_args);
}

}  // namespace trainrt::cli
