// Failures of a script run through the trainrt binary: Lua runtime and
// syntax errors (file:line, traceback, exit 1), errors raised by bindings
// (one line naming both shapes), trainrt.exit.
#include <gtest/gtest.h>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(RunErrors, RuntimeErrorPrintsFileLineAndTraceback) {
  ScriptResult r = run_lua_script("local t = {}\nlocal function f() return t.x.y end\nf()\n", "", "broken");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("broken.lua:2: attempt to index a nil value"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stack traceback:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("broken.lua:3: in main chunk"), std::string::npos) << r.output;
}

TEST(RunErrors, SyntaxErrorNamesFileAndLine) {
  ScriptResult r = run_lua_script("print('fine')\nlocal x = = 1\n", "", "syntax");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("syntax.lua:2:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("fine"), std::string::npos) << "a script with a syntax error must not start";
}

TEST(RunErrors, BindingErrorNamesBothShapesAndTheLine) {
  ScriptResult r = run_lua_script("local a = trainrt.ones(2, 3)\nlocal b = trainrt.ones(4, 5)\nprint(a:matmul(b))\n",
                                  "", "shapes");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("shapes.lua:3:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(2, 3)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(4, 5)"), std::string::npos) << r.output;
}

TEST(RunErrors, BindingErrorIsCatchableWithPcall) {
  expect_script_passes(R"lua(
local ok, err = pcall(function() return trainrt.ones(2, 3) + trainrt.ones(4) end)
check(not ok and err:find("(2, 3)", 1, true) and err:find("(4)", 1, true), "broadcast error caught")
check((trainrt.ones(2) + 1):sum():item() == 4, "state usable after a caught binding error")
)lua",
                       {"broadcast error caught", "state usable after a caught binding error"});
}

TEST(RunErrors, ExitEndsTheScriptWithItsCode) {
  ScriptResult r = run_lua_script("trainrt.exit(3, 'stopping here')\nprint('not reached')\n");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("stopping here"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("not reached"), std::string::npos) << r.output;
}

// 256 would wrap to a 0 exit status, reading as success.
TEST(RunErrors, ExitCodeOutOfRangeIsAnError) {
  ScriptResult r = run_lua_script("trainrt.exit(256, 'bad')\n");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("exit code must be between 0 and 255"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
