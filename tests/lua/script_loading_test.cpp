// What a run loads from disk must be Lua source: a precompiled (string.dump /
// luac) chunk is refused in one line naming the file, whether it is the
// script, a require'd module, a strategy file, or reached through loadfile,
// dofile or load. Bytecode is not verified by Lua; a crafted chunk crashes the
// process. Also: a script path that is a folder says so.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

const std::string kRefusal =
    ": is a precompiled Lua chunk (bytecode); trainrt loads only Lua source, because bytecode is not verified and "
    "can crash the process; use the .lua file it was compiled from";

// A folder with `name` holding the bytecode of `source`, written by trainrt itself.
std::filesystem::path dir_with_bytecode(const std::string& name, const std::string& source) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "compile.lua") << "local f = assert(io.open(arg[1], 'wb'))\n"
                                        "f:write(string.dump(assert(load(arg[2]))))\nf:close()\n";
  ScriptResult r = run_trainrt("compile.lua '" + (dir / name).string() + "' \"" + source + "\"", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir;
}

TEST(ScriptLoading, BytecodeScriptIsRefusedNamingTheFile) {
  std::filesystem::path dir = dir_with_bytecode("compiled.lua", "print('bytecode ran')");
  ScriptResult r = run_trainrt("compiled.lua", dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "trainrt: compiled.lua" + kRefusal + "\n");
}

TEST(ScriptLoading, BytecodeModuleIsRefusedByRequire) {
  std::filesystem::path dir = dir_with_bytecode("helper.lua", "return {answer = 42}");
  std::ofstream(dir / "main.lua") << "local helper = require 'helper'\nprint(helper.answer)\n";
  ScriptResult r = run_trainrt("main.lua", dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("trainrt: main.lua:1: module 'helper': ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("helper.lua" + kRefusal + "\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("42"), std::string::npos) << r.output;
}

TEST(ScriptLoading, LoadfileDofileAndLoadRefuseBytecode) {
  std::filesystem::path dir = dir_with_bytecode("chunk.luac", "return 1");
  std::ofstream(dir / "main.lua") << R"lua(
local f, err = loadfile("chunk.luac")
print("loadfile", f, err)
print("loadfile mode b", select(2, loadfile("chunk.luac", "b")))
print("dofile", pcall(dofile, "chunk.luac"))
print("load", load(string.dump(function() return 1 end), "dumped", "b"))
print("source still loads", loadfile("main.lua") ~= nil, load("return 7")(), dofile("value.lua"))
)lua";
  std::ofstream(dir / "value.lua") << "return 'from value.lua'\n";
  ScriptResult r = run_trainrt("main.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loadfile\tnil\tchunk.luac" + kRefusal + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loadfile mode b\tchunk.luac" + kRefusal + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dofile\tfalse\tchunk.luac" + kRefusal + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("load\tnil\tload" + kRefusal + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("source still loads\ttrue\t7\tfrom value.lua\n"), std::string::npos) << r.output;
}

TEST(ScriptLoading, BytecodeStrategyFileIsRefused) {
  std::filesystem::path dir = dir_with_bytecode("mine.lua", "return {}");
  std::ofstream(dir / "main.lua") << "trainrt.strategy()\nprint('not reached')\n";
  ScriptResult r = run_trainrt("main.lua --strategy ./mine.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt: --strategy ./mine.lua: ./mine.lua" + kRefusal + "\n");
}

// Lua 5.4's dump format up to the main function's first instruction: header
// (31 bytes), upvalue count, source, line range, 3 bytes, instruction count.
size_t first_instruction(const std::string& chunk) {
  size_t pos = 31 + 1;
  auto varint = [&] {
    size_t x = 0;
    for (;;) {
      unsigned char c = static_cast<unsigned char>(chunk.at(pos++));
      x = (x << 7) | (c & 0x7f);
      if (c & 0x80) return x;
    }
  };
  size_t source = varint();
  if (source) pos += source - 1;
  varint();
  varint();
  pos += 3;
  varint();
  return pos;
}

// Instruction 1 of "local x = 1 print(x)" rewritten to GETUPVAL 0 250: an
// upvalue that does not exist. The unchecked chunk killed trainrt (SIGSEGV).
TEST(ScriptLoading, CrashingBytecodeIsRefusedNotRun) {
  std::filesystem::path dir = dir_with_bytecode("evil.lua", "local x = 1 print(x)");
  std::string bytes;
  {
    std::ifstream in(dir / "evil.lua", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const uint32_t getupval = 9u | (250u << 16);  // OP_GETUPVAL, A = 0, B = 250
  std::memcpy(&bytes[first_instruction(bytes) + 4], &getupval, 4);
  std::ofstream(dir / "evil.lua", std::ios::binary) << bytes;
  ScriptResult r = run_trainrt("evil.lua", dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "trainrt: evil.lua" + kRefusal + "\n");
}

TEST(ScriptLoading, ScriptPathThatIsAFolderSaysSo) {
  std::filesystem::path dir = make_temp_dir();
  std::filesystem::create_directory(dir / "models.lua");
  ScriptResult r = run_trainrt("models.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt: cannot run script 'models.lua': it is a directory, expected a .lua file\n");
  r = run_trainrt("train " + dir.string(), dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("it is a directory, expected a .lua file"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
