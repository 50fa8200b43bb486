// DDP as a user runs it: `trainrt launch` (or processes started by hand with
// torchrun-style variables, or mpirun) on Lua scripts through the real binary.
// Equivalence with one process at twice the batch, the example reaching its
// accuracy, evaluation counting every sample once, and each failure a user can
// cause giving one line naming the rank, and a non-zero exit.
#include <sys/socket.h>

#include "dist/job_runner.h"
#include "requirements.h"

namespace trainrt::test {
namespace {


// A small MLP trained for --steps steps on Fashion-MNIST with Adam through the
// run's strategy; the main rank writes the parameters to --out.
std::string equivalence_script() {
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
print(string.format("rank %d done, %d steps, strategy %s", strategy.rank, step, strategy.name))
)lua";
}

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

TEST(DdpEquivalence, TwoRanksOfBatchBMatchOneProcessOfBatch2B) {
  REQUIRE_FASHION_MNIST();
  auto dir = make_temp_dir();
  std::string script = write_file(dir, "eq.lua", equivalence_script());
  ScriptResult single = run_trainrt("train eq.lua --threads 1 --seed 11 --batch-size 64 --out single.txt", dir);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ScriptResult ddp = run_trainrt(
      "launch --nproc-per-node 2 --master-port 0 eq.lua --strategy ddp --threads 1 --seed 11 --batch-size 32 "
      "--out ddp.txt",
      dir);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.output;
  EXPECT_NE(ddp.output.find("[rank 1] rank 1 done, 12 steps, strategy ddp"), std::string::npos) << ddp.output;
  auto a = read_params((dir / "single.txt").string()), b = read_params((dir / "ddp.txt").string());
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_LE(max_relative_difference(b, a), 1e-5);
  // The same script with a different seed gives clearly different parameters:
  // the comparison above can fail.
  ScriptResult other = run_trainrt("train eq.lua --threads 1 --seed 12 --batch-size 64 --out other.txt", dir);
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_GT(max_relative_difference(read_params((dir / "other.txt").string()), a), 1e-3);
}

TEST(DdpExample, SeedCnnReachesTheTargetAccuracyInOneEpochOnTwoProcesses) {
  REQUIRE_FASHION_MNIST();
  ScriptResult r = run_trainrt(
      "launch --nproc-per-node 2 --master-port 0 examples/mnist/train.lua --strategy ddp --epochs 1", source_dir());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(epoch=1 loss=[0-9.]+ test_accuracy=([0-9.]+))")))
      << r.output;
  EXPECT_GE(std::stod(m[1]), 0.87) << r.output;
  EXPECT_NE(r.output.find("batches/epoch=469"), std::string::npos) << "each rank takes half of 60000 in batches of 64";
  EXPECT_EQ(r.output.find("[rank 1] epoch="), std::string::npos) << "only rank 0 prints epoch lines";
}

TEST(DdpEvaluation, AnUnevenTestSetIsCountedOnceOverAllRanks) {
  REQUIRE_FASHION_MNIST();
  auto dir = make_temp_dir();
  write_file(dir, "eval.lua", R"lua(
local data = require "trainrt.data"
local strategy = trainrt.strategy()
local ds = data.subset(data.fashion_mnist{ split = "test" }, 1001)
local count, label_sum = 0, 0
for _, y in strategy:loader(ds, { batch_size = 100, eval = true }) do
  count = count + y:size(1)
  label_sum = label_sum + y:sum():item()
end
local total = strategy:reduce({ count, label_sum }, "sum")
strategy:print(string.format("samples=%d label_sum=%d local=%d", total[1], total[2], count))
)lua");
  ScriptResult single = run_trainrt("train eval.lua", dir);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  for (int n : {2, 3}) {
    ScriptResult r = run_trainrt("launch --nproc-per-node " + std::to_string(n) + " --master-port 0 eval.lua", dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::smatch a, b;
    ASSERT_TRUE(std::regex_search(single.output, a, std::regex(R"(samples=(\d+) label_sum=(\d+))")));
    ASSERT_TRUE(std::regex_search(r.output, b, std::regex(R"(samples=(\d+) label_sum=(\d+))"))) << r.output;
    EXPECT_EQ(b[1], "1001") << r.output;
    EXPECT_EQ(a[2], b[2]) << "the same samples, none twice:\n" << r.output;
  }
}

TEST(DdpLuaApi, CollectivesFromLuaAcrossProcesses) {
  auto dir = make_temp_dir();
  write_file(dir, "coll.lua", R"lua(
local dist = require "trainrt.dist"
dist.init()
local r, n = dist.rank(), dist.world_size()
local t = trainrt.tensor({ r + 1, 10 * (r + 1) })
dist.all_reduce(t, "sum")
local w = dist.all_reduce(trainrt.tensor({ r }), "max", { async = true })
w:wait()
local b = trainrt.full({ 3 }, r, { dtype = "int64" })
dist.broadcast(b, 1)
local g = dist.all_gather(trainrt.tensor({ r, -r }))
local s = dist.reduce_scatter(trainrt.tensor({ 1, 2, 3, 4, 5, 6 }):reshape({ 3, 2 }), "sum")
dist.barrier()
local function list(x)
  local out = {}
  for _, v in ipairs(x:reshape({ x:numel() }):tolist()) do out[#out + 1] = string.format("%g", v) end
  return table.concat(out, ",")
end
print(string.format("r=%d sum=%s bcast=%s gather=%s rs=%s", r, list(t), list(b), list(g), list(s)))
)lua");
  ScriptResult r = run_trainrt("launch --nproc-per-node 3 --master-port 0 coll.lua", dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("r=0 sum=6,60 bcast=1,1,1 gather=0,0,1,-1,2,-2 rs=3,6"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 2] r=2 sum=6,60 bcast=1,1,1 gather=0,0,1,-1,2,-2 rs=15,18"), std::string::npos)
      << r.output;
}

TEST(DdpUserStrategy, TheShippedClippedDdpExampleRunsFromItsPath) {
  auto dir = make_temp_dir();
  write_file(dir, "clip.lua", R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
local s = trainrt.strategy()
local model = nn.Sequential{ nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2) }
local opt = optim.SGD{ model:parameters(), lr = 0.1 }
model, opt = s:setup(model, opt)
for _ = 1, 3 do
  opt:zero_grad()
  s:backward(model(trainrt.randn({ 8, 4 })):pow(2):sum())
  s:step(opt)
end
local squares = 0
for _, p in ipairs(model:parameters()) do squares = squares + (p:grad() * p:grad()):sum():item() end
s:print(string.format("name=%s clipped=%d norm=%.6f", s.name, s.clipped_steps, math.sqrt(squares)))
)lua");
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --master-port 0 clip.lua --strategy '" + source_dir() +
                                   "/examples/strategies/clipped_ddp.lua' --set clipped_ddp.max_norm=0.001",
                               dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(name=clipped_ddp clipped=3 norm=([0-9.]+))"))) << r.output;
  EXPECT_LE(std::stod(m[1]), 0.0011) << r.output;
}

TEST(DdpFailures, AParameterWithoutGradientNamesIt) {
  auto dir = make_temp_dir();
  write_file(dir, "unused.lua", R"lua(
local nn = require "trainrt.nn"
local strategy = trainrt.strategy()
local model = nn.Sequential{ nn.Linear(4, 3), nn.Linear(3, 2) }
model = strategy:setup(model)
local x = trainrt.randn({ 5, 4 })
local y = model[1](x)  -- the second layer never runs
strategy:backward(y:sum())
)lua");
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --master-port 0 unused.lua --strategy ddp", dir);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("got no gradient in this backward pass: 2.weight, 2.bias"), std::string::npos) << r.output;
  ScriptResult allowed = run_trainrt(
      "launch --nproc-per-node 2 --master-port 0 unused.lua --strategy ddp --set ddp.find_unused_parameters=true", dir);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

TEST(DdpFailures, ARankThatNeverArrivesTimesOutNamingOpSequenceAndRank) {
  auto dir = make_temp_dir();
  write_file(dir, "late.lua", R"lua(
local dist = require "trainrt.dist"
dist.init()
local t = trainrt.ones({ 4 })
dist.all_reduce(t)                                     -- #1 everyone
if dist.rank() == 1 then os.execute("sleep 30") end   -- rank 1 is stuck elsewhere
dist.all_reduce(t)                                     -- #2
)lua");
  auto start = std::chrono::steady_clock::now();
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --master-port 0 late.lua --timeout 2", dir);
  EXPECT_LT(seconds_since(start), 15.0) << r.output;
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0: all_reduce #2 timed out after 2 s; ranks that did not arrive: 1"),
            std::string::npos)
      << r.output;
}

// The stores a cluster may already have: a shared directory and a Redis server.
void expect_job_joins_through(const std::string& rdzv) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", R"lua(
local dist = require "trainrt.dist"
dist.init()
local t = trainrt.tensor({ dist.rank() + 1 })
dist.all_reduce(t)
print(string.format("rank %d sum %g store %s", dist.rank(), t:item(), dist.env().store))
)lua");
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --rdzv " + rdzv + " join.lua --timeout 20", dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0 sum 3 store " + rdzv), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 1] rank 1 sum 3 store " + rdzv), std::string::npos) << r.output;
}

TEST(DdpRendezvous, AJobJoinsThroughASharedDirectory) {
  expect_job_joins_through("file://" + (make_temp_dir() / "rdzv").string());
}

TEST(DdpRendezvous, AJobJoinsThroughRedisAndAgainInTheSameServer) {
  std::optional<std::string> binary;
  REQUIRE_REDIS_SERVER(binary);
  RedisServer server(*binary);
  expect_job_joins_through(server.url());
  expect_job_joins_through(server.url());  // each launch has its own run id: no stale keys
}

TEST(DdpRendezvous, TwoJobsOfTheSameRunIdInOneStoreAreNamedAsTheConflict) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", "require('trainrt.dist').init() print('joined')\n");
  std::string rdzv = "file://" + (dir / "rdzv").string();
  ScriptResult first = run_trainrt("launch --nproc-per-node 1 --rdzv " + rdzv + " --rdzv-id same join.lua", dir);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ScriptResult second = run_trainrt("launch --nproc-per-node 1 --rdzv " + rdzv + " --rdzv-id same join.lua", dir);
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("rank 0 is taken by two processes of job 'same'"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("--rdzv-id"), std::string::npos) << second.output;
}

TEST(DdpRendezvous, MismatchedWorldSizesAreOneClearLine) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", "require('trainrt.dist').init() print('joined')\n");
  auto results = run_by_hand(2, "train join.lua --timeout 3", dir, free_port(), {2, 3});
  EXPECT_NE(results[1].exit_code, 0) << results[1].output;
  EXPECT_NE(results[1].output.find("rank 1 was started with WORLD_SIZE=3, rank 0 with WORLD_SIZE=2"),
            std::string::npos)
      << results[1].output;
  EXPECT_NE(results[0].exit_code, 0) << "rank 0 cannot complete without rank 1:\n" << results[0].output;
}

TEST(DdpRendezvous, ProcessesStartedByHandJoinAndTrain) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", R"lua(
local dist = require "trainrt.dist"
dist.init()
local t = trainrt.tensor({ dist.rank() })
dist.all_reduce(t)
print(string.format("rank %d of %d sum %g", dist.rank(), dist.world_size(), t:item()))
)lua");
  auto results = run_by_hand(2, "train join.lua --timeout 20", dir, free_port());
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(results[r].exit_code, 0) << results[r].output;
    EXPECT_NE(results[r].output.find("rank " + std::to_string(r) + " of 2 sum 1"), std::string::npos)
        << results[r].output;
  }
}

TEST(DdpRendezvous, AnUnreachableMasterFailsAfterTheTimeout) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", "require('trainrt.dist').init()\n");
  int port = free_port();
  auto start = std::chrono::steady_clock::now();
  ScriptResult r = run_with_env({"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)},
                                "train join.lua --timeout 2", dir);
  EXPECT_LT(seconds_since(start), 10.0);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("rank 1: cannot reach the rendezvous store at tcp://127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << r.output;
}

TEST(DdpRendezvous, APortInUseOnRankZeroIsOneClearLine) {
  auto dir = make_temp_dir();
  write_file(dir, "join.lua", "require('trainrt.dist').init()\n");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ScriptResult r = run_with_env({"RANK=0", "WORLD_SIZE=2", "MASTER_PORT=" + std::to_string(port)},
                                "train join.lua --timeout 2", dir);
  close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("address already in use"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MASTER_PORT=" + std::to_string(port)), std::string::npos) << r.output;
}

TEST(DdpEngines, MpirunStartsATwoRankJobThatTrains) {
  REQUIRE_FASHION_MNIST();
  REQUIRE_OR_SKIP(system("command -v mpirun > /dev/null 2>&1") == 0, "mpirun is missing (Debian package openmpi-bin)");
  std::string command = "cd '" + source_dir() + "' && mpirun --allow-run-as-root --oversubscribe -np 2 -x MASTER_PORT=" +
                        std::to_string(free_port()) + " '" + trainrt_binary() +
                        "' train examples/mnist/mlp.lua --threads 1 --epochs 1 --limit 2000 --test-limit 1000 2>&1";
  ScriptResult r;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(epoch=1 loss=[0-9.]+ test_accuracy=([0-9.]+))")))
      << r.output;
  EXPECT_GT(std::stod(m[1]), 0.5) << r.output;
  EXPECT_EQ(r.output.find("epoch=1 ", m.position(0) + 1), std::string::npos) << "one epoch line, from rank 0\n"
                                                                            << r.output;
}

}  // namespace
}  // namespace trainrt::test
