// Runs the real `trainrt` binary on a Lua script written to a fresh temp dir,
// capturing stdout+stderr and the exit code, for the Lua-level tests of
// trainrt.nn / optim / fit and the examples. Not a Lua state in-process: the
// tests go through the path a user takes.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace trainrt::test {

struct ScriptResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

inline std::string trainrt_binary() { return TRAINRT_BUILD_DIR "/bin/trainrt"; }
inline std::string source_dir() { return TRAINRT_SOURCE_DIR; }

// A new empty directory under the test temp dir, unique per call.
inline std::filesystem::path make_temp_dir() {
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "trainrt-lua-XXXXXX").string();
  char* dir = mkdtemp(pattern.data());
  if (dir == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
  return dir ? std::filesystem::path(dir) : std::filesystem::path(::testing::TempDir());
}

// Runs a shell command, capturing stdout+stderr (append 2>&1) and the exit code.
inline ScriptResult run_shell(const std::string& command) {
  ScriptResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return result;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Runs `trainrt ARGS` in `cwd` through the shell (args are pasted as given);
// env: "K=V ..." set for this run only.
inline ScriptResult run_trainrt(const std::string& args, const std::filesystem::path& cwd, const std::string& env = "") {
  return run_shell("cd '" + cwd.string() + "' && env " + env + " '" + trainrt_binary() + "' " + args + " 2>&1");
}

// Writes `body` to DIR/name.lua in a fresh temp dir and runs
// `trainrt train DIR/name.lua ARGS` there.
inline ScriptResult run_lua_script(const std::string& body, const std::string& args = "",
                                   const std::string& name = "script") {
  std::filesystem::path dir = make_temp_dir();
  std::filesystem::path script = dir / (name + ".lua");
  std::ofstream(script) << body;
  return run_trainrt("train '" + script.string() + "' " + args, dir);
}

// Lua helpers prepended to test scripts: check(cond, what) and
// check_close(actual, expected, tol, what) raise an error (non-zero exit) on
// failure and print "ok <what>" on success, so a test can also assert that
// every check ran.
inline const char* kLuaCheckPrelude = R"lua(
local nn = require "trainrt.nn"
local optim = require "trainrt.optim"
local F = trainrt.F
local function shape_str(t) return "(" .. table.concat(t:size(), ", ") .. ")" end
local function check(cond, what)
  if not cond then error("check failed: " .. what, 2) end
  print("ok " .. what)
end
local function check_close(a, b, tol, what)
  tol = tol or 1e-5
  if trainrt.is_tensor(a) then
    if not trainrt.is_tensor(b) then b = trainrt.full(a:size(), b, { dtype = a:dtype() }) end
    if shape_str(a) ~= shape_str(b) then
      error(what .. ": shape " .. shape_str(a) .. " vs " .. shape_str(b), 2)
    end
    local d = (a:double() - b:double()):abs():max():item()
    if not (d <= tol) then error(string.format("%s: max |diff| = %g > %g", what, d, tol), 2) end
  else
    if not (math.abs(a - b) <= tol * math.max(1, math.abs(b))) then
      error(string.format("%s: %.10g vs expected %.10g (tol %g)", what, a, b, tol), 2)
    end
  end
  print("ok " .. what)
end
)lua";

// Runs kLuaCheckPrelude + body; expects exit code 0 and an "ok <what>" line for
// each of `checks`.
inline void expect_script_passes(const std::string& body, const std::vector<std::string>& checks,
                                 const std::string& args = "") {
  ScriptResult r = run_lua_script(std::string(kLuaCheckPrelude) + body, args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string& what : checks) {
    EXPECT_NE(r.output.find("ok " + what + "\n"), std::string::npos) << "missing check '" << what << "' in:\n" << r.output;
  }
}

}  // namespace trainrt::test
