// The mirrored strategy against the other two, as a user runs them: `single`
// at batch 2B, `ddp` on 2 processes of B (trainrt launch) and `mirrored` on
// cpu:0,cpu:1 at a global batch of 2B give the same parameters after K steps,
// with mirrored's replicas bitwise identical; and the seed CNN example trains
// unchanged under mirrored.
#include <cmath>

#include "dist/job_runner.h"
#include "requirements.h"

namespace trainrt::test {
namespace {

// A small MLP trained for --steps steps on Fashion-MNIST with Adam through the
// run's strategy; the main rank writes the parameters to --out; mirrored also
// prints whether every replica holds bitwise the same parameters as replica 1.
std::string three_way_script() {
  return std::string(kWriteParamsLua) + R"lua(
local nn, optim, data = require "trainrt.nn", require "trainrt.optim", require "trainrt.data"
local args = trainrt.args{ batch_size = 32, steps = 12, out = "params.txt" }
local strategy = trainrt.strategy()
local ds = data.subset(data.fashion_mnist{ split = "train" }, 1024)
local loader = strategy:loader(ds, { batch_size = args.batch_size, shuffle = true, seed = 3 })
local model = nn.Sequential{ nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10) }
local optimizer = optim.Adam{ model:parameters(), lr = 1e-3 }
model, optimizer = strategy:setup(model, optimizer)
local criterion = nn.CrossEntropyLoss()
local step = 0
while step < args.steps do
  for x, y in loader do
    optimizer:zero_grad()
    strategy:backward(criterion(model(x), y))
    strategy:step(optimizer)
    step = step + 1
    if step == args.steps then break end
  end
end
if strategy:is_main() then write_params(model, args.out) end
if strategy.name == "mirrored" then
  local identical = true
  for r = 2, strategy.num_replicas do
    local mine, theirs = strategy:replica_parameters(1), strategy:replica_parameters(r)
    for i = 1, #mine do
      local a = mine[i]:detach():reshape({ mine[i]:numel() }):tolist()
      local b = theirs[i]:detach():to("cpu:0"):reshape({ theirs[i]:numel() }):tolist()
      for k = 1, #a do identical = identical and a[k] == b[k] end
    end
  end
  print(string.format("replicas=%d identical=%s", strategy.num_replicas, tostring(identical)))
end
print(string.format("rank %d done, %d steps, strategy %s", strategy.rank, step, strategy.name))
)lua";
}

double max_relative_diff(const std::map<std::string, std::vector<double>>& a,
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

TEST(MirroredEquivalence, SingleDdpAndMirroredReachTheSameParameters) {
  REQUIRE_FASHION_MNIST();
  auto dir = make_temp_dir();
  write_file(dir, "eq.lua", three_way_script());
  ScriptResult single = run_trainrt("train eq.lua --threads 1 --seed 11 --batch-size 64 --out single.txt", dir);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ScriptResult ddp = run_trainrt(
      "launch --nproc-per-node 2 --master-port 0 eq.lua --strategy ddp --threads 1 --seed 11 --batch-size 32 "
      "--out ddp.txt",
      dir);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.output;
  ScriptResult mirrored = run_trainrt(
      "train eq.lua --strategy mirrored --devices cpu:0,cpu:1 --threads 2 --seed 11 --batch-size 64 --out mirrored.txt",
      dir);
  ASSERT_EQ(mirrored.exit_code, 0) << mirrored.output;
  EXPECT_NE(mirrored.output.find("replicas=2 identical=true"), std::string::npos) << mirrored.output;
  EXPECT_NE(mirrored.output.find("rank 0 done, 12 steps, strategy mirrored"), std::string::npos) << mirrored.output;
  auto a = read_params((dir / "single.txt").string());
  auto b = read_params((dir / "ddp.txt").string());
  auto c = read_params((dir / "mirrored.txt").string());
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_LE(max_relative_diff(c, a), 1e-5) << "mirrored vs single";
  EXPECT_LE(max_relative_diff(c, b), 1e-5) << "mirrored vs ddp";
  EXPECT_LE(max_relative_diff(b, a), 1e-5) << "ddp vs single";
  // One replica at half the batch takes other steps: the comparison above can fail.
  ScriptResult half = run_trainrt("train eq.lua --strategy mirrored --threads 1 --seed 11 --batch-size 32 --out half.txt",
                                  dir);
  ASSERT_EQ(half.exit_code, 0) << half.output;
  EXPECT_NE(half.output.find("replicas=1 identical=true"), std::string::npos) << half.output;
  EXPECT_GT(max_relative_diff(read_params((dir / "half.txt").string()), a), 1e-3);
}

// The full epoch (the issue's figure, >= 0.87) is measured by hand; here a
// quarter of the training set must already clear 0.80.
TEST(MirroredExample, SeedCnnTrainsUnchangedOnTwoLogicalDevices) {
  REQUIRE_FASHION_MNIST();
  ScriptResult r = run_trainrt(
      "train examples/mnist/train.lua --strategy mirrored --devices cpu:0,cpu:1 --epochs 1 --limit 15000",
      source_dir());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(epoch=1 loss=[0-9.]+ test_accuracy=([0-9.]+))")))
      << r.output;
  EXPECT_GE(std::stod(m[1]), 0.80) << r.output;
  EXPECT_NE(r.output.find("batches/epoch=235"), std::string::npos) << "--batch-size 64 is the global batch";
  EXPECT_NE(r.output.find("strategy=mirrored(2 replicas on cpu:0, cpu:1)"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
