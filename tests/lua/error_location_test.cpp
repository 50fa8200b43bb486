// The first line of a failed run always says where: error values that are no
// string (a table, nil, an object with __tostring), a string raised without
// position (error("msg", 0)) and Lua's own "not enough memory" used to print
// as "trainrt: (error object is a table value)" or the bare message.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

// The first line of the output.
std::string first_line(const std::string& output) { return output.substr(0, output.find('\n')); }

struct Case {
  std::string body, first_line;
};

TEST(ErrorLocation, EveryErrorValueIsReportedWithScriptAndLine) {
  for (const Case& c : std::vector<Case>{
           {"local x = 1\nerror({code = 7})\n", "trainrt: where.lua:2: (error object is a table value)"},
           {"local x = 1\nerror(nil)\n", "trainrt: where.lua:2: (error object is a nil value)"},
           {"local x = 1\nerror(setmetatable({}, {__tostring = function() return 'custom failure' end}))\n",
            "trainrt: where.lua:2: custom failure"},
           {"local x = 1\nerror('no position', 0)\n", "trainrt: where.lua:2: no position"},
           {"local function f()\n  error('inside f', 0)\nend\nf()\n", "trainrt: where.lua:2: inside f"},
           {"error(42)\n", "trainrt: where.lua:1: 42"},
           // A message with its own position keeps it (error's default level 1).
           {"local x = 1\nerror('positioned')\n", "trainrt: where.lua:2: positioned"},
       }) {
    std::filesystem::path dir = make_temp_dir();
    std::ofstream(dir / "where.lua") << c.body;
    ScriptResult r = run_trainrt("where.lua", dir);
    EXPECT_EQ(r.exit_code, 1) << c.body << r.output;
    EXPECT_EQ(first_line(r.output), c.first_line) << c.body << r.output;
    EXPECT_NE(r.output.find("stack traceback:"), std::string::npos) << r.output;
  }
}

TEST(ErrorLocation, ErrorRaisedInAModuleWithoutPositionNamesTheModuleLine) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "helper.lua") << "local M = {}\nfunction M.check(v)\n  if not v then error('helper refused', 0) end\nend\n"
                                       "return M\n";
  std::ofstream(dir / "main.lua") << "local helper = require 'helper'\nhelper.check(false)\n";
  ScriptResult r = run_trainrt("main.lua", dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(first_line(r.output), "trainrt: ./helper.lua:3: helper refused") << r.output;
  EXPECT_NE(r.output.find("main.lua:2: in main chunk"), std::string::npos) << r.output;
}

TEST(ErrorLocation, OutOfMemoryNamesTheScript) {
  // io.read asks Lua for a 1 TiB buffer; the allocation fails at once. A
  // sanitizer build must return null for it too, as malloc does.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = asan ? asan : "";
  setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "allocator_may_return_null=1").c_str(), 1);
  ScriptResult r = run_lua_script("local x = 1\nlocal s = io.open(arg[0]):read(1 << 40)\n",
                                  "", "hungry");
  if (asan) setenv("ASAN_OPTIONS", saved.c_str(), 1);
  else unsetenv("ASAN_OPTIONS");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // (Under ASan, with allocator_may_return_null=1, a sanitizer warning precedes the line.)
  EXPECT_NE(r.output.find("trainrt: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hungry.lua: not enough memory (a Lua allocation failed; free tensors and tables the script "
                          "no longer needs, or give the process more memory)\n"),
            std::string::npos)
      << r.output;
}

TEST(ErrorLocation, ExitRequestsAndPcallAreUnchanged) {
  ScriptResult r = run_lua_script("print(pcall(error, {code = 1}))\ntrainrt.exit(3, 'bye')\n");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("false\ttable: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bye\n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
