// Interoperability with the reference safetensors implementation (PyPI
// safetensors + numpy in <repo>/.venv-test, made by containers/install-deps.sh):
// it reads every tensor trainrt wrote, bit for bit (model and state files),
// and trainrt reads what it wrote, float64 and int64 beyond 2^53 included, and
// loads a PyTorch-named state dict into the same architecture. On CI a missing
// virtualenv is a failure, not a skip.
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "checkpoint_files.h"
#include "lua_script_runner.h"
#include "requirements.h"
#include "trainrt/checkpoint/safetensors.h"

namespace trainrt::test {
namespace {

std::string venv_python() { return source_dir() + "/.venv-test/bin/python"; }

#define REQUIRE_REFERENCE()                                                                                   \
  REQUIRE_OR_SKIP(std::filesystem::exists(venv_python()),                                                     \
                  venv_python() + " is missing: run containers/install-deps.sh, which creates .venv-test with " \
                                  "the reference safetensors (containers/requirements-test.txt)")

// Runs the venv's python on `script` in dir; stdout+stderr and the exit code.
ScriptResult run_python(const std::filesystem::path& dir, const std::string& script, const std::string& args = "") {
  std::ofstream(dir / "ref.py") << script;
  std::string command = "cd '" + dir.string() + "' && '" + venv_python() + "' ref.py " + args + " 2>&1";
  ScriptResult result;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = pipe ? pclose(pipe) : -1;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// One line per tensor, "file name dtype [shape] hex-of-bytes", as the reference prints it.
const char* kReferenceDump = R"py(
import sys
from safetensors import safe_open
for path in sys.argv[1:]:
    with safe_open(path, framework="numpy") as f:
        for name in f.keys():
            a = f.get_tensor(name)
            print(path, name, a.dtype.str, list(a.shape), a.tobytes().hex())
        print(path, "metadata", sorted((f.metadata() or {}).items()))
)py";

// The same lines from trainrt's own reader.
std::set<std::string> trainrt_dump(const std::filesystem::path& dir, const std::string& file) {
  checkpoint::File f = checkpoint::read_file((dir / file).string());
  std::set<std::string> lines;
  for (const auto& [name, t] : f.tensors) {
    const char* dtype = t.dtype() == DType::Float32   ? "<f4"
                        : t.dtype() == DType::Float64 ? "<f8"
                        : t.dtype() == DType::Int64   ? "<i8"
                                                      : "|u1";
    std::ostringstream line;
    line << file << " " << name << " " << dtype << " [";
    for (size_t d = 0; d < t.sizes().size(); ++d) line << (d ? ", " : "") << t.sizes()[d];
    line << "] ";
    const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel() * static_cast<int64_t>(dtype_size(t.dtype())); ++i)
      line << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(bytes[i]);
    lines.insert(line.str());
  }
  return lines;
}

TEST(CheckpointInterop, TheReferenceReadsEveryTensorTrainrtWroteBitForBit) {
  REQUIRE_REFERENCE();
  auto dir = make_temp_dir();
  std::ofstream(dir / "write.lua") << R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
trainrt.manual_seed(4)
local model = nn.Sequential{ nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3) }
local opt = optim.Adam{ model:parameters() }
model(trainrt.randn(6, 5)):sum():backward()
opt:step()
trainrt.checkpoint.save("model.safetensors", { model = model, optimizer = opt, extra = { ema = trainrt.randn(3) } })
trainrt.checkpoint.write("dtypes.safetensors", {
  f32 = trainrt.randn(2, 3), f64 = trainrt.tensor({ math.pi, -1e-300, math.huge }, { dtype = "float64" }),
  i64 = trainrt.tensor{ (1 << 62) + 1, math.mininteger, -7 }, u8 = trainrt.tensor({ 0, 128, 255 }, { dtype = "uint8" }),
  scalar = trainrt.full({}, 2.5), empty = trainrt.zeros(0, 3),
}, { note = "written by trainrt" })
local _, meta = trainrt.checkpoint.read("model.safetensors")
print("STATE " .. meta["trainrt.state"])
)lua";
  ScriptResult w = run_trainrt("train write.lua", dir);
  ASSERT_EQ(w.exit_code, 0) << w.output;
  std::string state = w.output.substr(w.output.find("STATE ") + 6);
  state = state.substr(0, state.find('\n'));
  std::vector<std::string> files = {"model.safetensors", state, "dtypes.safetensors"};
  ScriptResult ref = run_python(dir, kReferenceDump, files[0] + " " + files[1] + " " + files[2]);
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  std::set<std::string> reference_lines, expected;
  std::istringstream in(ref.output);
  for (std::string line; std::getline(in, line);)
    if (line.find(" metadata ") == std::string::npos) reference_lines.insert(line);
  for (const std::string& f : files)
    for (const std::string& line : trainrt_dump(dir, f)) expected.insert(line);
  EXPECT_EQ(reference_lines, expected);
  EXPECT_EQ(expected.size(), 8u + 12u + 1u + 6u);  // model (2 Linear, BatchNorm + buffers), Adam moments of 6 params + ema, dtypes
  EXPECT_NE(ref.output.find("model.safetensors metadata [('format', 'pt'), ('trainrt.state', '" + state + "')"),
            std::string::npos)
      << ref.output;
  EXPECT_NE(ref.output.find("('note', 'written by trainrt')"), std::string::npos) << ref.output;
}

TEST(CheckpointInterop, TrainrtReadsWhatTheReferenceWrote) {
  REQUIRE_REFERENCE();
  auto dir = make_temp_dir();
  ScriptResult ref = run_python(dir, R"py(
import numpy as np
from safetensors.numpy import save_file
save_file({"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "0.bias": np.array([0.5, -0.25], np.float32)},
          "torch_model.safetensors", metadata={"format": "pt"})
save_file({"f64": np.array([np.pi, -1e-300, np.inf], np.float64),
           "i64": np.array([2**62 + 1, -2**63, 7], np.int64),
           "u8": np.array([0, 255], np.uint8), "flags": np.array([True, False]),
           "scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 3), np.float32)},
          "reference.safetensors", metadata={"k": "v"})
)py");
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  std::ofstream(dir / "read.lua") << std::string(kLuaCheckPrelude) << R"lua(
local t, meta = trainrt.checkpoint.read("reference.safetensors")
check(meta.k == "v", "metadata")
local f64 = t.f64:tolist()
check(t.f64:dtype() == "float64" and f64[1] == math.pi and f64[2] == -1e-300 and f64[3] == math.huge, "float64 exact")
local i64 = t.i64:tolist()
check(t.i64:dtype() == "int64" and i64[1] == (1 << 62) + 1 and i64[2] == math.mininteger and i64[3] == 7, "int64 exact")
check(t.u8:dtype() == "uint8" and t.u8:tolist()[2] == 255 and t.flags:tolist()[1] == 1 and t.flags:tolist()[2] == 0,
  "uint8 and bool")
check(t.scalar:dim() == 0 and t.scalar:item() == 2.5 and shape_str(t.empty) == "(0, 3)", "scalar and empty")
local model = nn.Sequential{ nn.Linear(3, 2) }
trainrt.checkpoint.load("torch_model.safetensors", { model = model })
local expected = trainrt.arange(6):float():view(2, 3) / 7
check(model[1].weight:eq(expected):long():sum():item() == 6 and model[1].bias:tolist()[2] == -0.25,
  "PyTorch-named weights load into the model")
)lua";
  ScriptResult r = run_trainrt("train read.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* what : {"metadata", "float64 exact", "int64 exact", "uint8 and bool", "scalar and empty",
                           "PyTorch-named weights load into the model"})
    EXPECT_NE(r.output.find(std::string("ok ") + what + "\n"), std::string::npos) << what << "\n" << r.output;
}

}  // namespace
}  // namespace trainrt::test
