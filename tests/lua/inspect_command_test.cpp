// `trainrt inspect FILE [--json]` as a user runs it: the tensors (name, dtype,
// shape, bytes) and metadata of a checkpoint written by trainrt; malformed
// files give one line naming the file and exit 1, never a crash.
#include <nlohmann/json.hpp>

#include "checkpoint_files.h"
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

std::filesystem::path saved_checkpoint() {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "save.lua") << R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
local model = nn.Sequential{ nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2) }
trainrt.checkpoint.save("m.safetensors", { model = model, optimizer = optim.SGD{ model:parameters(), lr = 0.1 },
                                           progress = { epoch = 1, step = 7 } })
)lua";
  ScriptResult r = run_trainrt("train save.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir;
}

TEST(Inspect, ListsTensorsAndMetadata) {
  auto dir = saved_checkpoint();
  ScriptResult r = run_trainrt("inspect m.safetensors", dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("m.safetensors: safetensors, 4 tensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0.weight  F32     [3, 4]                         48"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2.bias    F32     [2]                             8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  format: pt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  trainrt.state: m.state-"), std::string::npos) << r.output;
}

TEST(Inspect, JsonOutputAndTheStateFile) {
  auto dir = saved_checkpoint();
  ScriptResult r = run_trainrt("inspect m.safetensors --json", dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["tensors"].size(), 4u);
  EXPECT_EQ(j["tensors"][0]["name"], "0.weight");
  EXPECT_EQ(j["tensors"][0]["dtype"], "F32");
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json::array({3, 4}));
  EXPECT_EQ(j["tensors"][0]["bytes"], 48);
  EXPECT_EQ(j["metadata"]["format"], "pt");
  std::string state = j["metadata"]["trainrt.state"];
  ScriptResult s = run_trainrt("inspect " + state, dir);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_NE(s.output.find("format: trainrt-state"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("\"step\": 7"), std::string::npos) << s.output;  // the JSON state, indented
  EXPECT_NE(s.output.find("\"class\": \"SGD\""), std::string::npos) << s.output;
}

TEST(Inspect, MalformedFilesAreOneLineAndExit1) {
  auto dir = make_temp_dir();
  std::string valid = valid_safetensors();
  struct Case {
    std::string name, bytes, message;
  };
  std::string overlap = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                          std::string(12, '\0'));
  for (const Case& c : std::vector<Case>{
           {"cut.safetensors", valid.substr(0, valid.size() - 4), "file truncated?"},
           {"len.safetensors", std::string(8, '\xff') + "{}", "runs past the end of the file"},
           {"text.safetensors", safetensors_bytes("not json", ""), "header is not valid JSON"},
           {"overlap.safetensors", overlap, "overlaps tensor 'a'"}}) {
    write_binary((dir / c.name).string(), c.bytes);
    ScriptResult r = run_trainrt("inspect " + c.name, dir);
    EXPECT_EQ(r.exit_code, 1) << c.name << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("trainrt: error: " + c.name + ": ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // Valid, but metadata nested 100000 deep: printed as it is, not recursed into.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  write_binary((dir / "deep.safetensors").string(), safetensors_bytes(R"({"__metadata__":{"x":")" + deep + "\"}}", ""));
  ScriptResult d = run_trainrt("inspect deep.safetensors > deep.txt", dir);
  EXPECT_EQ(d.exit_code, 0) << d.output;
  ScriptResult missing = run_trainrt("inspect", dir);
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("inspect: missing FILE"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace trainrt::test
