// Whole runs through the trainrt binary on GPUs, as a user starts them: a
// short `trainrt train` of a small MLP on cuda:0 reaches the CPU's loss and
// parameters; with two GPUs, `trainrt launch --strategy ddp --device cuda`
// (one process per GPU, NCCL) and `--strategy mirrored --devices
// cuda:0,cuda:1` (one process, two GPUs) match one GPU at the whole batch.
// The data is synthetic (drawn from --seed on the CPU, the same in every
// process), so no dataset is needed. Not here: the CPU-only versions
// (tests/dist/ddp_test.cpp, mirrored_test.cpp), which these mirror.
#include <cmath>
#include <regex>

#include "dist/job_runner.h"
#include "gpu/gpu_util.h"

namespace trainrt::test {
namespace {

// The MLP trained for --steps SGD steps on 4 synthetic batches of
// --global-batch samples; each process takes its share of every batch (its
// rank's slice), so N ranks of B/N samples see what one process of B sees.
// The main rank writes the parameters to --out and prints the final loss,
// averaged over ranks.
std::string equivalence_script() {
  return std::string(kWriteParamsLua) + R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
local args = trainrt.args{ global_batch = 64, steps = 30, out = "params.txt" }
local strategy = trainrt.strategy()
local xs, ys = {}, {}
for i = 1, 4 do
  xs[i] = trainrt.randn({ args.global_batch, 20 })              -- x: (B, 20)
  ys[i] = (trainrt.rand({ args.global_batch }) * 5):long()      -- y: (B) in [0, 5)
end
local model = nn.Sequential{ nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 5) }
local optimizer = optim.SGD{ model:parameters(), lr = 0.1, momentum = 0.9 }
model, optimizer = strategy:setup(model, optimizer)
local criterion = nn.CrossEntropyLoss()
local share = args.global_batch // strategy.world_size
local loss
for step = 1, args.steps do
  local i = (step - 1) % #xs + 1
  local x = xs[i]:narrow(1, strategy.rank * share + 1, share)
  local y = ys[i]:narrow(1, strategy.rank * share + 1, share)
  x, y = strategy:to_device(x, y)
  optimizer:zero_grad()
  loss = criterion(model(x), y)
  strategy:backward(loss)
  strategy:step(optimizer)
end
-- strategy:reduce of a host number: what examples/mnist's evaluation and ddp's
-- checkpoints do; reported apart, so the parameters are compared either way.
local ok, final = pcall(function() return strategy:reduce(loss:item(), "mean") end)
print(string.format("rank %d params_device=%s replicas=%d", strategy.rank, model:parameters()[1]:device(),
  strategy.num_replicas or 1))
if strategy:is_main() then
  write_params(model, args.out)
  print(string.format("strategy=%s", strategy.name))
  print(ok and string.format("final_loss=%.9g", final) or ("reduce_failed: " .. tostring(final)))
end
)lua";
}

// The "final_loss=" line's value; NaN (and a failure naming the output) when
// the run printed none, e.g. "reduce_failed: ..." instead.
double final_loss(const ScriptResult& r) {
  std::smatch m;
  if (!std::regex_search(r.output, m, std::regex(R"(final_loss=([-+0-9.eE]+|nan|inf))"))) {
    ADD_FAILURE() << "no final_loss line (strategy:reduce of the loss failed?) in:\n" << r.output;
    return std::nan("");
  }
  return std::stod(m[1]);
}

// max over parameters of max|a - b| / max|b|; 1e9 when names or sizes differ.
double max_relative_difference(const std::map<std::string, std::vector<double>>& a,
                               const std::map<std::string, std::vector<double>>& b) {
  if (a.size() != b.size() || a.empty()) return 1e9;
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

std::map<std::string, std::vector<double>> params_in(const std::filesystem::path& dir, const char* file) {
  return read_params((dir / file).string());
}

// Float32 on both sides: the CPU and one GPU differ by rounding (summation
// order, cuBLAS, CUDA's expf/tanhf) grown over 30 steps; two GPU runs with
// other batch splits by the same kind of rounding. On the CPU, mirrored and
// ddp runs of this script differ from single by 3e-7.
constexpr double kCpuVsGpu = 1e-4;
constexpr double kGpuVsGpu = 1e-4;

TEST(GpuTrain, AShortMlpRunOnCuda0ReachesTheCpusLossAndParameters) {
  REQUIRE_CUDA();
  auto dir = make_temp_dir();
  write_file(dir, "eq.lua", equivalence_script());
  ScriptResult cpu = run_trainrt("train eq.lua --device cpu --seed 11 --out cpu.txt", dir);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  ScriptResult gpu = run_trainrt("train eq.lua --device cuda:0 --seed 11 --out gpu.txt", dir);
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  EXPECT_NE(gpu.output.find("rank 0 params_device=cuda:0"), std::string::npos) << gpu.output;
  double loss_cpu = final_loss(cpu), loss_gpu = final_loss(gpu);
  EXPECT_TRUE(std::isfinite(loss_gpu)) << gpu.output;
  EXPECT_NEAR(loss_gpu, loss_cpu, kCpuVsGpu * std::abs(loss_cpu)) << cpu.output << gpu.output;
  EXPECT_LE(max_relative_difference(params_in(dir, "gpu.txt"), params_in(dir, "cpu.txt")), kCpuVsGpu);
  // The comparison can fail: another seed trains to clearly other parameters.
  ScriptResult other = run_trainrt("train eq.lua --device cuda:0 --seed 12 --out other.txt", dir);
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_GT(max_relative_difference(params_in(dir, "other.txt"), params_in(dir, "gpu.txt")), 1e-2);
}

TEST(GpuTrain, DdpOnTwoGpusOverNcclMatchesOneGpuAtTwiceTheBatch) {
  REQUIRE_CUDA_DEVICES(2);
  auto dir = make_temp_dir();
  write_file(dir, "eq.lua", equivalence_script());
  ScriptResult single = run_trainrt("train eq.lua --device cuda:0 --seed 11 --global-batch 64 --out single.txt", dir);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  // --device cuda: the ddp strategy puts each process on cuda:LOCAL_RANK.
  ScriptResult ddp = run_trainrt(
      "launch --nproc-per-node 2 --master-port 0 eq.lua --strategy ddp --backend nccl --device cuda --seed 11 "
      "--global-batch 64 --out ddp.txt",
      dir);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.output;
  EXPECT_NE(ddp.output.find("rank 0 params_device=cuda:0"), std::string::npos) << ddp.output;
  EXPECT_NE(ddp.output.find("rank 1 params_device=cuda:1"), std::string::npos)
      << "rank 1 must train on its own GPU:\n" << ddp.output;
  EXPECT_NE(ddp.output.find("strategy=ddp"), std::string::npos) << ddp.output;
  // ddp's reduce all-reduces a CPU float64 tensor through the job's backend;
  // coll-nccl moves CUDA tensors only.
  EXPECT_EQ(ddp.output.find("reduce_failed"), std::string::npos)
      << "strategy:reduce of a number fails under ddp over NCCL (examples/mnist's evaluation does this):\n"
      << ddp.output;
  EXPECT_NEAR(final_loss(ddp), final_loss(single), kGpuVsGpu * std::abs(final_loss(single))) << ddp.output;
  EXPECT_LE(max_relative_difference(params_in(dir, "ddp.txt"), params_in(dir, "single.txt")), kGpuVsGpu);
}

TEST(GpuTrain, MirroredOverTwoGpusMatchesOneGpuAtTheSameGlobalBatch) {
  REQUIRE_CUDA_DEVICES(2);
  auto dir = make_temp_dir();
  write_file(dir, "eq.lua", equivalence_script());
  ScriptResult single = run_trainrt("train eq.lua --device cuda:0 --seed 11 --global-batch 64 --out single.txt", dir);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  // Mirrored batches are global (TensorFlow's semantics): both runs see 64 samples a step.
  ScriptResult mirrored = run_trainrt(
      "train eq.lua --strategy mirrored --devices cuda:0,cuda:1 --seed 11 --global-batch 64 --out mirrored.txt", dir);
  ASSERT_EQ(mirrored.exit_code, 0) << mirrored.output;
  EXPECT_NE(mirrored.output.find("rank 0 params_device=cuda:0 replicas=2"), std::string::npos) << mirrored.output;
  EXPECT_NEAR(final_loss(mirrored), final_loss(single), kGpuVsGpu * std::abs(final_loss(single))) << mirrored.output;
  EXPECT_LE(max_relative_difference(params_in(dir, "mirrored.txt"), params_in(dir, "single.txt")), kGpuVsGpu);
}

}  // namespace
}  // namespace trainrt::test
