// dist.Launch*: `trainrt launch` through the real binary, as a user runs it:
// the workers' environment, output forwarding, failure reports and stops,
// restarts, a port in use, usage mistakes and signals to the launcher. Scripts
// use plain Lua only (print, os, io, error). Not here: the store or collectives.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

using Clock = std::chrono::steady_clock;

// Lua helpers for the scripts below.
const char* kLuaPrelude = R"lua(
local rank = os.getenv("RANK")
local function own_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return string.format("%d", pid)
end
local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
-- Written then renamed, so a reader never sees half a file.
local function write_file(path, text)
  local f = assert(io.open(path .. ".tmp", "w"))
  f:write(text)
  f:close()
  assert(os.rename(path .. ".tmp", path))
end
)lua";

struct LaunchRun {
  ScriptResult result;
  double seconds = 0;
  std::filesystem::path dir;
};

std::filesystem::path write_script(const std::string& body) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << kLuaPrelude << body;
  return dir;
}

// `trainrt launch LAUNCH_ARGS script.lua SCRIPT_ARGS` in a fresh dir holding the script.
LaunchRun launch(const std::string& body, const std::string& launch_args, const std::string& script_args = "") {
  LaunchRun run;
  run.dir = write_script(body);
  const Clock::time_point start = Clock::now();
  run.result = run_trainrt("launch " + launch_args + " script.lua " + script_args, run.dir);
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& output, const std::string& line) {
  for (const std::string& l : lines_of(output))
    if (l == line) return true;
  return false;
}

pid_t read_pid(const std::filesystem::path& file) {
  std::ifstream in(file);
  long pid = -1;
  return (in >> pid) ? static_cast<pid_t>(pid) : -1;
}

// Gone: no such process, or a zombie nobody reaped yet (a container's init may not).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = content.rfind(')');
  return paren != std::string::npos && content.size() > paren + 2 && content[paren + 2] == 'Z';
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The launcher as a child of the test (to signal it), output to DIR/launcher.log.
pid_t spawn_launcher(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {trainrt_binary(), "launch"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (std::string& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  const std::string log = (dir / "launcher.log").string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::chdir(dir.c_str()) != 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) ::_exit(126);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  EXPECT_GT(pid, 0) << "fork: " << std::strerror(errno);
  return pid;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Workers that write DIR/pid<RANK> and then sleep; returns their pids once both wrote.
const char* kSleepingWorkers = R"lua(
write_file("pid" .. rank, own_pid())
os.execute("sleep 60")
)lua";

std::vector<pid_t> wait_for_worker_pids(const std::filesystem::path& dir, int n) {
  std::vector<pid_t> pids;
  const bool all = wait_until(
      [&] {
        pids.clear();
        for (int r = 0; r < n; ++r) pids.push_back(read_pid(dir / ("pid" + std::to_string(r))));
        return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p > 0; });
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(all) << "the workers did not start:\n" << read_text(dir / "launcher.log");
  return pids;
}

// The sleeps the workers started live in the workers' process groups; end them.
void kill_leftovers(const std::vector<pid_t>& worker_pids) {
  for (pid_t pid : worker_pids)
    if (pid > 0) ::killpg(pid, SIGKILL);
}

TEST(LaunchEnv, TwoWorkersGetTheirRanksAndPrefixes) {
  LaunchRun run = launch(R"lua(
local parts = {}
for _, key in ipairs({"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                      "MASTER_PORT", "TRAINRT_LAUNCHER", "TRAINRT_RESTART_COUNT"}) do
  parts[#parts + 1] = key .. "=" .. tostring(os.getenv(key))
end
print("env " .. table.concat(parts, " "))
)lua",
                         "--nproc-per-node 2 --master-port 0");
  const std::string& out = run.result.output;
  ASSERT_EQ(run.result.exit_code, 0) << out;
  std::smatch start;
  ASSERT_TRUE(std::regex_search(out, start,
                                std::regex("trainrt launch: 2 workers on node 0 of 1 \\(world size 2\\), "
                                           "store tcp://127\\.0\\.0\\.1:([0-9]+)\n")))
      << out;
  const std::string port = start[1];
  EXPECT_GT(std::stoi(port), 0);
  const std::string common =
      "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " TRAINRT_LAUNCHER=1 TRAINRT_RESTART_COUNT=0";
  EXPECT_TRUE(has_line(out, "env RANK=0 LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 GROUP_RANK=0 " + common)) << out;
  EXPECT_TRUE(has_line(out, "[rank 1] env RANK=1 LOCAL_RANK=1 WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 GROUP_RANK=0 " + common))
      << out;
  EXPECT_EQ(out.find("[rank 0]"), std::string::npos) << out;
}

TEST(LaunchEnv, DefaultThreadsSplitTheCores) {
  LaunchRun run = launch(R"lua(print("threads " .. tostring(os.getenv("TRAINRT_DEFAULT_THREADS"))))lua",
                         "--nproc-per-node 2 --master-port 0");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  std::string expected = std::getenv("TRAINRT_DEFAULT_THREADS") ? std::getenv("TRAINRT_DEFAULT_THREADS") : "";
  if (expected.empty()) {
    cpu_set_t set;
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    expected = std::to_string(std::max(1, CPU_COUNT(&set) / 2));
  }
  EXPECT_TRUE(has_line(run.result.output, "threads " + expected)) << run.result.output;
  EXPECT_TRUE(has_line(run.result.output, "[rank 1] threads " + expected)) << run.result.output;
}

TEST(LaunchOutput, QuietRanksShowsRankZeroOnly) {
  LaunchRun run =
      launch(R"lua(print("hello from rank " .. rank))lua", "--nproc-per-node 2 --master-port 0 --quiet-ranks");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_TRUE(has_line(run.result.output, "hello from rank 0")) << run.result.output;
  EXPECT_EQ(run.result.output.find("hello from rank 1"), std::string::npos) << run.result.output;
}

TEST(LaunchOutput, RunOptionsBeforeTheScriptReachEveryWorker) {
  LaunchRun run = launch(R"lua(print("seed " .. tostring(trainrt.config.seed)))lua",
                         "--nproc-per-node 2 --seed 7 --master-port=0");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.output;
  EXPECT_TRUE(has_line(run.result.output, "seed 7")) << run.result.output;
  EXPECT_TRUE(has_line(run.result.output, "[rank 1] seed 7")) << run.result.output;
}

TEST(LaunchFailure, AFailingWorkerStopsTheOthersAndIsReported) {
  LaunchRun run = launch(R"lua(
if rank == "0" then
  write_file("pid0", own_pid())
  os.execute("sleep 60")
  print("rank 0 slept through")
else
  for _ = 1, 400 do
    if exists("pid0") then break end
    os.execute("sleep 0.05")
  end
  error("boom on purpose")
end
)lua",
                         "--nproc-per-node 2 --master-port 0");
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 1) << out;
  EXPECT_LT(run.seconds, 10.0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("trainrt launch: rank 1 \\(pid [0-9]+\\) exited with code 1\n")))
      << out;
  const size_t report = out.find("trainrt launch: last lines of rank 1:\n");
  ASSERT_NE(report, std::string::npos) << out;
  EXPECT_NE(out.find("  ", report), std::string::npos) << out;
  EXPECT_NE(out.find("boom on purpose", report), std::string::npos) << out;
  EXPECT_EQ(out.find("rank 0 slept through"), std::string::npos) << out;
  const pid_t rank0 = read_pid(run.dir / "pid0");
  ASSERT_GT(rank0, 0) << out;
  EXPECT_TRUE(process_gone(rank0)) << "rank 0 (pid " << rank0 << ") still runs\n" << out;
}

TEST(LaunchFailure, AWorkerKilledBySignalIsNamed) {
  LaunchRun run = launch(R"lua(
if rank == "1" then os.execute("kill -9 " .. own_pid()) end
os.execute("sleep 60")
)lua",
                         "--nproc-per-node 2 --master-port 0");
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 1) << out;
  EXPECT_LT(run.seconds, 10.0) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("trainrt launch: rank 1 \\(pid [0-9]+\\) was killed by signal 9 \\(SIGKILL\\)\n")))
      << out;
}

// The shell that rank 0 starts ignores SIGTERM and keeps rank 0's pipes open:
// the stop must SIGKILL it after the grace period, well within 10 s.
TEST(LaunchFailure, WhatIgnoresSigtermIsKilledAfterTheGrace) {
  LaunchRun run = launch(R"lua(
if rank == "0" then
  os.execute("trap '' TERM; echo $$ > shpid.tmp; mv shpid.tmp shpid; sleep 60")
else
  for _ = 1, 400 do
    if exists("shpid") then break end
    os.execute("sleep 0.05")
  end
  error("boom on purpose")
end
)lua",
                         "--nproc-per-node 2 --master-port 0");
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 1) << out;
  EXPECT_GT(run.seconds, 2.5) << "the grace period (3 s) was skipped\n" << out;
  EXPECT_LT(run.seconds, 10.0) << out;
  const pid_t shell = read_pid(run.dir / "shpid");
  ASSERT_GT(shell, 0) << out;
  EXPECT_TRUE(wait_until([&] { return process_gone(shell); }, std::chrono::seconds(2)))
      << "rank 0's shell (pid " << shell << ") survived the stop\n" << out;
  ::kill(shell, SIGKILL);
}

TEST(LaunchRestart, AFailureOnTheFirstAttemptIsRestarted) {
  LaunchRun run = launch(R"lua(
local attempt = os.getenv("TRAINRT_RESTART_COUNT")
print("attempt " .. attempt .. " of rank " .. rank)
if attempt == "0" and rank == "1" then error("the first attempt fails") end
)lua",
                         "--nproc-per-node 2 --master-port 0 --max-restarts 2");
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 0) << out;
  EXPECT_NE(out.find("trainrt launch: restarting the worker group (restart 1 of 2) after rank 1 failed\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("restart 2 of 2"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "attempt 1 of rank 0")) << out;
  EXPECT_TRUE(has_line(out, "[rank 1] attempt 1 of rank 1")) << out;
}

TEST(LaunchRestart, GivesUpAfterMaxRestarts) {
  LaunchRun run = launch(R"lua(
print("running attempt " .. os.getenv("TRAINRT_RESTART_COUNT"))
error("this worker always fails")
)lua",
                         "--master-port 0 --max-restarts 1");
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 1) << out;
  const std::vector<std::string> lines = lines_of(out);
  auto is_attempt = [](const std::string& l) { return l.rfind("running attempt ", 0) == 0; };
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), is_attempt), 2) << "the worker ran twice\n" << out;
  EXPECT_TRUE(has_line(out, "running attempt 0")) << out;
  EXPECT_TRUE(has_line(out, "running attempt 1")) << out;
  EXPECT_NE(out.find("restart 1 of 1"), std::string::npos) << out;
  const size_t report = out.rfind("trainrt launch: last lines of rank 0:\n");
  ASSERT_NE(report, std::string::npos) << out;
  EXPECT_NE(out.find("this worker always fails", report), std::string::npos) << out;
  EXPECT_NE(out.find("trainrt launch: giving up after 1 restart\n", report), std::string::npos) << out;
}

TEST(LaunchStore, APortInUseIsReportedAndNoWorkerStarts) {
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t size = sizeof address;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &size), 0);
  const int port = ntohs(address.sin_port);

  LaunchRun run = launch(R"lua(write_file("started" .. rank, "yes"))lua",
                         "--nproc-per-node 2 --master-port " + std::to_string(port));
  ::close(holder);
  const std::string& out = run.result.output;
  EXPECT_EQ(run.result.exit_code, 1) << out;
  EXPECT_NE(out.find("trainrt launch: cannot host the rendezvous store"), std::string::npos) << out;
  EXPECT_NE(out.find("address already in use"), std::string::npos) << out;
  EXPECT_NE(out.find("--master-port"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(run.dir / "started0")) << out;
  EXPECT_FALSE(std::filesystem::exists(run.dir / "started1")) << out;
}

TEST(LaunchUsage, MistakesExitTwoNamingTheOption) {
  const std::filesystem::path dir = write_script("print('never runs')");
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"--nproc-per-node 2", "missing SCRIPT.lua"},
           {"--nproc-per-node 0 script.lua", "--nproc-per-node expects a positive integer, got '0'"},
           {"--nproc-per-node x script.lua", "--nproc-per-node expects a positive integer, got 'x'"},
           {"--nproc_per_node=-1 script.lua", "--nproc-per-node expects a positive integer, got '-1'"},
           {"--node-rank 2 --nnodes 2 script.lua", "--node-rank 2 is not below --nnodes 2"},
           {"--nnodes 2 --master-port 0 script.lua", "--master-port 0 (any free port) works with --nnodes 1 only"},
           {"--rdzv http://x script.lua", "--rdzv expects a store URL"},
           {"--rdzv-id a/b script.lua", "--rdzv-id expects 1 to 128 letters, digits"},
           {"--timeout -3 script.lua", "--timeout expects a positive number of seconds"},
           {"--strategy '' script.lua", "--strategy expects NAME"},
           {"--no-such-option script.lua", "unknown option --no-such-option"},
           {"--threads 0 script.lua", "--threads expects a positive integer"},
           {"missing.lua", "cannot open script 'missing.lua'"},
       }) {
    ScriptResult r = run_trainrt("launch " + c.args, dir);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_EQ(lines_of(r.output).size(), 1u) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("trainrt: ", 0), 0u) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST(LaunchUsage, HelpListsTheLaunchOptions) {
  ScriptResult r = run_trainrt("launch --help", make_temp_dir());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* flag : {"--nproc-per-node N", "--nnodes M", "--node-rank R", "--master-addr HOST",
                           "--master-port PORT", "--max-restarts K", "--rdzv URL", "--rdzv-id ID", "--quiet-ranks"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << "\n" << r.output;
}

TEST(LaunchSignals, KillingTheLauncherKillsItsWorkers) {
  const std::filesystem::path dir = write_script(kSleepingWorkers);
  const pid_t launcher = spawn_launcher(dir, {"--nproc-per-node", "2", "--master-port", "0", "script.lua"});
  ASSERT_GT(launcher, 0);
  const std::vector<pid_t> workers = wait_for_worker_pids(dir, 2);
  ASSERT_EQ(::kill(launcher, SIGKILL), 0);
  ASSERT_EQ(::waitpid(launcher, nullptr, 0), launcher);
  const bool gone = wait_until([&] { return std::all_of(workers.begin(), workers.end(), process_gone); },
                               std::chrono::seconds(5));
  kill_leftovers(workers);
  EXPECT_TRUE(gone) << "workers outlived a SIGKILLed launcher:\n" << read_text(dir / "launcher.log");
}

TEST(LaunchSignals, SigtermStopsTheWorkersAndExits143) {
  const std::filesystem::path dir = write_script(kSleepingWorkers);
  const pid_t launcher = spawn_launcher(dir, {"--nproc-per-node", "2", "--master-port", "0", "script.lua"});
  ASSERT_GT(launcher, 0);
  const std::vector<pid_t> workers = wait_for_worker_pids(dir, 2);
  const Clock::time_point sent = Clock::now();
  ASSERT_EQ(::kill(launcher, SIGTERM), 0);
  int status = 0;
  const bool exited = wait_until([&] { return ::waitpid(launcher, &status, WNOHANG) == launcher; },
                                 std::chrono::seconds(10));
  if (!exited) {
    ::kill(launcher, SIGKILL);
    ::waitpid(launcher, &status, 0);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  const std::string log = read_text(dir / "launcher.log");
  kill_leftovers(workers);
  ASSERT_TRUE(exited) << "the launcher ignored SIGTERM for 10 s:\n" << log;
  EXPECT_LT(seconds, 10.0) << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 143) << "wait status " << status << "\n" << log;
  EXPECT_NE(log.find("trainrt launch: received SIGTERM; stopping 2 workers"), std::string::npos) << log;
  for (pid_t pid : workers) EXPECT_TRUE(process_gone(pid)) << "worker " << pid << " still runs\n" << log;
}

// While the launcher waits out the grace period (the workers' shells ignore
// SIGTERM), a second signal makes it SIGKILL them at once.
TEST(LaunchSignals, ASecondSignalKillsAtOnce) {
  const std::filesystem::path dir = write_script(R"lua(
write_file("pid" .. rank, own_pid())
os.execute("trap '' TERM; touch trapped" .. rank .. "; sleep 60")
)lua");
  const pid_t launcher = spawn_launcher(dir, {"--nproc-per-node", "2", "--master-port", "0", "script.lua"});
  ASSERT_GT(launcher, 0);
  const std::vector<pid_t> workers = wait_for_worker_pids(dir, 2);
  EXPECT_TRUE(wait_until(
      [&] { return std::filesystem::exists(dir / "trapped0") && std::filesystem::exists(dir / "trapped1"); },
      std::chrono::seconds(30)));
  const Clock::time_point sent = Clock::now();
  ASSERT_EQ(::kill(launcher, SIGINT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int status = 0;
  EXPECT_EQ(::waitpid(launcher, &status, WNOHANG), 0) << "the launcher did not wait for the grace period";
  ASSERT_EQ(::kill(launcher, SIGINT), 0);
  const bool exited = wait_until([&] { return ::waitpid(launcher, &status, WNOHANG) == launcher; },
                                 std::chrono::seconds(10));
  if (!exited) {
    ::kill(launcher, SIGKILL);
    ::waitpid(launcher, &status, 0);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - sent).count();
  const std::string log = read_text(dir / "launcher.log");
  kill_leftovers(workers);
  ASSERT_TRUE(exited) << log;
  EXPECT_LT(seconds, 2.5) << "the second SIGINT did not cut the grace period short\n" << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << "wait status " << status << "\n" << log;
  EXPECT_NE(log.find("trainrt launch: received SIGINT; stopping 2 workers"), std::string::npos) << log;
}

}  // namespace
}  // namespace trainrt::test
