// `trainrt bench [run options] [bench options]`: runs the shipped benchmark
// script (scripts/trainrt/bench.lua) through the same path as `trainrt train`,
// so what it measures is what a training run pays.
#include <filesystem>

#include "cli/commands.h"
#include "lua/state.h"

namespace trainrt::cli {

int bench_command(const std::vector<std::string>& args) {
  std::string script = (std::filesystem::path(lua::builtin_scripts_dir()) / "trainrt" / "bench.lua").string();
  std::vector<std::string> train_args{script};
  train_args.insert(train_args.end(), args.begin(), args.end());
  return train_command(train_args);
}

}  // namespace trainrt::cli
