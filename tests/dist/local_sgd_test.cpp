// The local SGD strategy of examples/strategies/local_sgd.lua as a user meets
// it: trainrt installed into a temporary prefix, then `trainrt launch
// --nproc-per-node 2 SCRIPT --strategy <the example's path>`. Ranks drift apart
// between averages and are bitwise equal after each; with k = 1 and plain SGD it
// is ddp; the loss falls; a bad k is one line naming the setting.
#include "dist/job_runner.h"
#include "requirements.h"

namespace trainrt::test {
namespace {

// A 6-16-2 MLP fitting tanh(X W) by MSE with plain SGD. The data is the same on
// every rank (seed 5) and rank r takes its own rows each step, so ranks see
// different batches; each rank starts from a different model (seed 100 + rank),
// so only setup's broadcast makes them equal. Each rank writes
// OUT-rank<r>.txt: "step S <sum of |p|>" after every step (and "saved S <sum>"
// after save_checkpoint at --save-at), "final <sum>" after model:eval(); the
// main rank writes its parameters to OUT-params.txt.
std::string local_sgd_script() {
  return std::string(kWriteParamsLua) + R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
local args = trainrt.args{ steps = 7, batch = 8, lr = 0.05, save_at = 0, out = "run" }
local s = trainrt.strategy()
local function checksum(model)  -- sum of |p| over every parameter, in float64, in a fixed order
  local total = 0
  for _, p in ipairs(model:parameters()) do
    for _, v in ipairs(p:detach():reshape({ p:numel() }):tolist()) do total = total + math.abs(v) end
  end
  return string.format("%.17g", total)
end
trainrt.manual_seed(5)
local n = args.steps * args.batch * s.world_size
local X = trainrt.randn({ n, 6 })
local Y = X:matmul(trainrt.randn({ 6, 2 })):tanh()
trainrt.manual_seed(100 + s.rank)
local model = nn.Sequential{ nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2) }
local opt = optim.SGD{ model:parameters(), lr = args.lr }
model, opt = s:setup(model, opt)
local function full_loss() return trainrt.F.mse_loss(model(X), Y):item() end
local f = assert(io.open(("%s-rank%d.txt"):format(args.out, s.rank), "w"))
f:write("step 0 ", checksum(model), "\n")
local before = full_loss()
for step = 1, args.steps do
  local first = ((step - 1) * s.world_size + s.rank) * args.batch + 1
  opt:zero_grad()
  s:backward(trainrt.F.mse_loss(model(X:narrow(1, first, args.batch)), Y:narrow(1, first, args.batch)))
  s:step(opt)
  f:write("step ", step, " ", checksum(model), "\n")
  if step == args.save_at then
    s:save_checkpoint(args.out .. "-ckpt.safetensors", { model = model })
    f:write("saved ", step, " ", checksum(model), "\n")
  end
end
model:eval()
f:write("final ", checksum(model), "\n")
f:close()
if s:is_main() then write_params(model, args.out .. "-params.txt") end
s:print(string.format("strategy=%s loss_before=%.6f loss_after=%.6f averages=%s", s.name, before, full_loss(),
                      tostring(s:stats().averages)))
)lua";
}

// trainrt installed once for this file's tests, as a user has it.
class LocalSgd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = new std::filesystem::path(make_temp_dir() / "prefix");
    std::string command = "cmake --install '" + std::string(TRAINRT_BUILD_DIR) + "' --prefix '" + prefix_->string() +
                          "' > '" + prefix_->string() + ".log' 2>&1";
    install_status_ = std::system(command.c_str());
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(prefix_->parent_path(), ignored);  // the install and its log
    delete prefix_;
    prefix_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(install_status_, 0) << "cmake --install failed; see " << prefix_->string() << ".log";
    ASSERT_TRUE(std::filesystem::exists(binary())) << binary();
    dir_ = make_temp_dir();
    write_file(dir_, "local.lua", local_sgd_script());
  }

  static std::string binary() { return (*prefix_ / "bin" / "trainrt").string(); }
  static std::string example() { return source_dir() + "/examples/strategies/local_sgd.lua"; }

  // `<installed trainrt> launch --nproc-per-node 2 local.lua ARGS` in the test's folder.
  ScriptResult launch(const std::string& args) const {
    std::string command = "cd '" + dir_.string() + "' && '" + binary() +
                          "' launch --nproc-per-node 2 --master-port 0 local.lua --threads 1 " + args + " 2>&1";
    return run_shell(command);
  }
  ScriptResult launch_local_sgd(const std::string& args) const {
    return launch("--strategy '" + example() + "' " + args);
  }

  // "step 3" -> "26.05..." from OUT-rank<r>.txt.
  std::map<std::string, std::string> checksums(const std::string& out, int rank) const {
    std::map<std::string, std::string> sums;
    std::ifstream in(dir_ / (out + "-rank" + std::to_string(rank) + ".txt"));
    std::string line;
    while (std::getline(in, line)) {
      size_t last = line.rfind(' ');
      if (last != std::string::npos) sums[line.substr(0, last)] = line.substr(last + 1);
    }
    return sums;
  }

  std::filesystem::path dir_;
  static std::filesystem::path* prefix_;
  static int install_status_;
};
std::filesystem::path* LocalSgd::prefix_ = nullptr;
int LocalSgd::install_status_ = -1;

double max_relative_difference(const std::map<std::string, std::vector<double>>& a,
                               const std::map<std::string, std::vector<double>>& b) {
  double worst = 0;
  for (const auto& [name, va] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.size() != va.size()) return 1e9;
    double scale = 0, diff = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      scale = std::max(scale, std::abs(it->second[i]));
      diff = std::max(diff, std::abs(va[i] - it->second[i]));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-12));
  }
  return worst;
}

TEST_F(LocalSgd, RanksDriftBetweenAveragesAndAreBitwiseEqualAfterEach) {
  ScriptResult r = launch_local_sgd("--set local_sgd.k=3 --steps 7 --out k3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rank0 = checksums("k3", 0), rank1 = checksums("k3", 1);
  ASSERT_EQ(rank0.size(), 9u) << r.output;
  ASSERT_EQ(rank1.size(), 9u) << r.output;
  EXPECT_EQ(rank0["step 0"], rank1["step 0"]) << "setup broadcasts rank 0's parameters";
  for (int step = 1; step <= 7; ++step) {
    std::string key = "step " + std::to_string(step);
    if (step % 3 == 0) {
      EXPECT_EQ(rank0[key], rank1[key]) << key << ": averaged";
    } else {
      EXPECT_NE(rank0[key], rank1[key]) << key << ": each rank stepped on its own gradients";
    }
  }
  EXPECT_EQ(rank0["final"], rank1["final"]) << "model:eval() averages the one step since step 6";
  EXPECT_NE(rank0["final"], rank0["step 7"]);
  EXPECT_NE(r.output.find("strategy=local_sgd"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("averages=3"), std::string::npos) << "steps 3 and 6, then model:eval()\n" << r.output;
}

TEST_F(LocalSgd, SaveCheckpointAveragesFirstAndTheCountRestartsThere) {
  ScriptResult r = launch_local_sgd("--set local_sgd.k=3 --steps 5 --save-at 1 --out saved");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rank0 = checksums("saved", 0), rank1 = checksums("saved", 1);
  EXPECT_NE(rank0["step 1"], rank1["step 1"]);
  EXPECT_EQ(rank0["saved 1"], rank1["saved 1"]) << "the checkpoint holds the averaged model";
  EXPECT_NE(rank0["step 3"], rank1["step 3"]) << "the next average is 3 steps after the save";
  EXPECT_EQ(rank0["step 4"], rank1["step 4"]);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "saved-ckpt.safetensors"));
}

TEST_F(LocalSgd, WithKOneAndPlainSgdItIsDdp) {
  ScriptResult local = launch_local_sgd("--set local_sgd.k=1 --steps 12 --lr 0.1 --out k1");
  ASSERT_EQ(local.exit_code, 0) << local.output;
  ScriptResult ddp = launch("--strategy ddp --steps 12 --lr 0.1 --out ddp");
  ASSERT_EQ(ddp.exit_code, 0) << ddp.output;
  EXPECT_NE(ddp.output.find("strategy=ddp"), std::string::npos) << ddp.output;
  auto a = read_params((dir_ / "k1-params.txt").string()), b = read_params((dir_ / "ddp-params.txt").string());
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  // Averaging parameters after each plain SGD step averages the gradients.
  EXPECT_LE(max_relative_difference(a, b), 1e-5);
  // With k = 2 the ranks take their second step from different points: the
  // comparison above can fail.
  ScriptResult k2 = launch_local_sgd("--set local_sgd.k=2 --steps 12 --lr 0.1 --out k2");
  ASSERT_EQ(k2.exit_code, 0) << k2.output;
  EXPECT_GT(max_relative_difference(read_params((dir_ / "k2-params.txt").string()), b), 1e-4);
}

TEST_F(LocalSgd, TheLossFalls) {
  ScriptResult r = launch_local_sgd("--set local_sgd.k=4 --steps 12 --lr 0.1 --out loss");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(loss_before=([0-9.]+) loss_after=([0-9.]+))"))) << r.output;
  EXPECT_LT(std::stod(m[2]), 0.6 * std::stod(m[1])) << r.output;
}

TEST_F(LocalSgd, ABadKIsOneLineNamingTheSetting) {
  for (std::string k : {"0", "-1", "x", "1.5"}) {
    ScriptResult r = launch_local_sgd("--set local_sgd.k=" + k);
    EXPECT_NE(r.exit_code, 0) << r.output;
    std::string expected = "--set local_sgd.k=" + k + ": error: local_sgd.k (average every k steps) must be an " +
                           "integer of at least 1, got " + (k == "x" ? "'x'" : k) + "\n";
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("traceback"), std::string::npos) << r.output;
  }
  write_file(dir_, "trainrt.toml", "[local_sgd]\nk = 0\n");
  ScriptResult r = launch_local_sgd("");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("trainrt.toml:2: error: local_sgd.k"), std::string::npos) << r.output;
}

// The example a user runs first: trainrt.fit's evaluation (model:eval()) sees
// the averaged model and the MLP learns.
TEST_F(LocalSgd, TheMnistMlpExampleTrainsUnchanged) {
  REQUIRE_FASHION_MNIST();
  std::string command = "cd '" + source_dir() + "' && '" + binary() +
                        "' launch --nproc-per-node 2 --master-port 0 examples/mnist/mlp.lua --strategy "
                        "examples/strategies/local_sgd.lua --threads 1 --epochs 2 --limit 4000 --test-limit 1000 "
                        "--optimizer sgd --lr 0.05 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(output, m, std::regex(R"(epoch=2 loss=[0-9.]+ test_accuracy=([0-9.]+))"))) << output;
  EXPECT_GT(std::stod(m[1]), 0.6) << output;
}

}  // namespace
}  // namespace trainrt::test
