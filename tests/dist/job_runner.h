// Helpers for tests that run whole jobs as a user does: `trainrt launch`, or
// several `trainrt train` processes started by hand with torchrun-style
// variables (what Kubernetes operators and wrapper scripts do). Outputs and
// exit codes come back per process. Builds on lua/lua_script_runner.h.
#pragma once
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "dist/test_servers.h"
#include "lua/lua_script_runner.h"

namespace trainrt::test {

// Writes body to dir/name and returns the path.
inline std::string write_file(const std::filesystem::path& dir, const std::string& name, const std::string& body) {
  std::filesystem::path path = dir / name;
  std::ofstream(path) << body;
  return path.string();
}

// Runs `ENV... trainrt ARGS` in cwd (env entries "K=V", pasted into the shell command).
inline ScriptResult run_with_env(const std::vector<std::string>& env, const std::string& args,
                                 const std::filesystem::path& cwd) {
  std::string prefix;
  for (const std::string& e : env) prefix += e + " ";
  std::string command = "cd '" + cwd.string() + "' && env " + prefix + "'" + trainrt_binary() + "' " + args + " 2>&1";
  ScriptResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Starts `world` processes of `trainrt ARGS` at once, rank r with RANK=r,
// WORLD_SIZE=world_sizes[r] (default: world), LOCAL_RANK=r, MASTER_PORT=port.
inline std::vector<ScriptResult> run_by_hand(int world, const std::string& args, const std::filesystem::path& cwd,
                                             int port, std::vector<int> world_sizes = {}) {
  if (world_sizes.empty()) world_sizes.assign(world, world);
  std::vector<ScriptResult> results(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      results[r] = run_with_env({"RANK=" + std::to_string(r), "WORLD_SIZE=" + std::to_string(world_sizes[r]),
                                 "LOCAL_RANK=" + std::to_string(r), "LOCAL_WORLD_SIZE=" + std::to_string(world),
                                 "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)},
                                args, cwd);
    });
  for (auto& t : threads) t.join();
  return results;
}

// name -> values from lines "param NAME v1 v2 ..." (what the test scripts write).
inline std::map<std::string, std::vector<double>> read_params(const std::string& path) {
  std::map<std::string, std::vector<double>> out;
  std::ifstream in(path);
  std::string word, name;
  while (in >> word) {
    if (word == "param") {
      in >> name;
      out[name];
    } else {
      out[name].push_back(std::stod(word));
    }
  }
  return out;
}

// Lua that writes every parameter of `model` to `path` as "param NAME v1 v2 ...".
inline const char* kWriteParamsLua = R"lua(
local function write_params(model, path)
  local f = assert(io.open(path, "w"))
  for name, p in model:named_parameters() do
    f:write("param ", name)
    for _, v in ipairs(p:detach():reshape({ p:numel() }):tolist()) do f:write(string.format(" %.9g", v)) end
    f:write("\n")
  end
  f:close()
end
)lua";

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace trainrt::test
