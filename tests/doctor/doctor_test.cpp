// Doctor.* and LaunchPreflight.*: `trainrt doctor` and `trainrt launch`'s
// preflight through the real binary. The machine is faked through doctor.h's
// test hooks (a small /dev/shm, a /sys/class/net with only lo, a memlock
// limit, the driver's GPU list) and the fake CUDA plugin (0 to 2 GPUs); each
// failure must exit 1 and name its fix. Not here: the real GPU path.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

bool has(const std::string& output, const std::string& needle) { return output.find(needle) != std::string::npos; }

// A socket listening on 0.0.0.0:<any port>, as another job holding MASTER_PORT.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd, 1), 0);
    socklen_t size = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    port = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd); }
};

int free_port() {
  Listener l;
  return l.port;  // closed again on return: free, unless someone takes it meanwhile
}

// A fake /sys/class/net holding these interface names.
std::filesystem::path net_dir(const std::vector<std::string>& names) {
  std::filesystem::path dir = make_temp_dir();
  for (const std::string& name : names) std::filesystem::create_directory(dir / name);
  return dir;
}

// Hooks for a healthy machine; each test overrides one by appending NAME=VALUE
// (the last one wins; an empty value counts as unset).
std::string healthy_env(const std::string& more = "") {
  return "TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(8LL << 30) +
         " TRAINRT_DOCTOR_MEMLOCK_BYTES=unlimited TRAINRT_DOCTOR_NET_DIR='" + net_dir({"eth0", "lo"}).string() +
         "' MASTER_PORT=" + std::to_string(free_port()) + " " + more;
}

std::string fake_gpus(int devices) {
  return "TRAINRT_PLUGIN_PATH='" + std::string(TRAINRT_TEST_PLUGIN_DIR) +
         "/trt-test-fake-cuda.so' TRT_FAKE_CUDA_DEVICES=" + std::to_string(devices) + " ";
}

ScriptResult doctor(const std::string& args, const std::string& env) {
  return run_trainrt("doctor " + args, make_temp_dir(), env);
}

TEST(Doctor, HealthyCpuMachineExitsZero) {
  ScriptResult r = doctor("", healthy_env("NCCL_SOCKET_IFNAME= GLOO_SOCKET_IFNAME="));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "trainrt doctor: 1 process per node on cpu")) << r.output;
  EXPECT_TRUE(has(r.output, "ready: 0 failed, 0 warnings")) << r.output;
  EXPECT_TRUE(has(r.output, "is free on this node")) << r.output;
  EXPECT_TRUE(has(r.output, "NCCL would use eth0")) << r.output;
  for (const char* name : {"cuda driver", "cudnn", "nccl", "plugins", "shm /dev/shm", "memlock", "interfaces"})
    EXPECT_TRUE(has(r.output, std::string("\nok     ") + name)) << name << "\n" << r.output;
}

TEST(Doctor, HealthyTwoGpusListsThemWithTheirMapping) {
  // gloo: this machine has no NCCL, which ddp on 2 GPUs would otherwise need.
  ScriptResult r = doctor("--device cuda --backend gloo",
                          healthy_env(fake_gpus(2) + "CUDA_VISIBLE_DEVICES=0,1"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "2 processes per node on cuda")) << r.output;
  EXPECT_TRUE(has(r.output, "2 visible, needs 2 GPUs")) << r.output;
  EXPECT_TRUE(has(r.output, "Fake GPU 1, GPU-fa4e0001-0000-0000-0000-000000000001, 64.0 MiB")) << r.output;
  EXPECT_TRUE(has(r.output, "CUDA_VISIBLE_DEVICES entry 1 '1'")) << r.output;
  EXPECT_TRUE(has(r.output, "cuda driver") && has(r.output, "13.0")) << r.output;
}

TEST(Doctor, SmallShmFailsWithTheDockerFix) {
  ScriptResult r = doctor("--device cuda --backend nccl",
                          healthy_env(fake_gpus(2) + "TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "FAIL   shm /dev/shm")) << r.output;
  EXPECT_TRUE(has(r.output, "64.0 MiB free of 64.0 MiB; needs 256.0 MiB for NCCL between 2 local ranks")) << r.output;
  EXPECT_TRUE(has(r.output, "docker run --shm-size=1g (or --ipc=host)")) << r.output;
  EXPECT_TRUE(has(r.output, "shm_size: \"1gb\"")) << r.output;
}

TEST(Doctor, SmallShmOnlyWarnsWhenNothingNeedsIt) {
  ScriptResult r = doctor("", healthy_env("TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "WARN   shm /dev/shm")) << r.output;
  EXPECT_TRUE(has(r.output, "--shm-size")) << r.output;
}

TEST(Doctor, UnreadableShmPathFailsWhenNcclNeedsIt) {
  ScriptResult r = doctor("--device cuda --nproc-per-node 2",
                          healthy_env(fake_gpus(2) + "TRAINRT_DOCTOR_SHM_BYTES= TRAINRT_DOCTOR_SHM_PATH=/no/such/shm"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "cannot stat /no/such/shm")) << r.output;
  EXPECT_TRUE(has(r.output, "--ipc=host")) << r.output;
}

TEST(Doctor, NoGpuWithDeviceCudaFailsWithTheFix) {
  ScriptResult r = doctor("--device cuda", healthy_env(fake_gpus(0)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "FAIL   gpu count")) << r.output;
  EXPECT_TRUE(has(r.output, "none visible")) << r.output;
  EXPECT_TRUE(has(r.output, "driver: not found (fake)")) << r.output;
  EXPECT_TRUE(has(r.output, "docker run --gpus all")) << r.output;
}

TEST(Doctor, NoGpuOnACpuRunIsFine) {
  ScriptResult r = doctor("", healthy_env(fake_gpus(0)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "none visible")) << r.output;
}

TEST(Doctor, MoreProcessesThanGpusFails) {
  ScriptResult r = doctor("--device cuda --nproc-per-node 4 --backend gloo", healthy_env(fake_gpus(2)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "--nproc-per-node 4 on cuda needs 4 GPUs, 2 visible")) << r.output;
  EXPECT_TRUE(has(r.output, "fix: run --nproc-per-node 2, or make more GPUs visible")) << r.output;
}

TEST(Doctor, DeviceIndexBeyondTheVisibleGpusFails) {
  ScriptResult r = doctor("--device cuda:3 --nproc-per-node 1", healthy_env(fake_gpus(2)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "--device cuda:3 needs 4 GPUs, 2 visible")) << r.output;
}

TEST(Doctor, CudaVisibleDevicesOutOfRangeWarnsWithTheDriversRule) {
  // The driver's list: three GPUs, the fake plugin's two and one more.
  std::filesystem::path gpus = make_temp_dir();
  for (int i = 0; i < 3; ++i) {
    std::filesystem::path bus = gpus / ("0000:0" + std::to_string(i) + ":00.0");
    std::filesystem::create_directory(bus);
    std::ofstream(bus / "information") << "Model: \t Fake\nGPU UUID: \t GPU-fa4e000" << i
                                        << "-0000-0000-0000-00000000000" << i << "\nBus Location: \t 0000:0" << i
                                        << ":00.0\n";
  }
  ScriptResult r = doctor("--device cuda --backend gloo",
                          healthy_env(fake_gpus(2) + "TRAINRT_DOCTOR_NVIDIA_GPUS_DIR='" + gpus.string() +
                                      "' CUDA_VISIBLE_DEVICES=0,1,7"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "physical GPU 1, CUDA_VISIBLE_DEVICES entry 1 '1'")) << r.output;
  EXPECT_TRUE(has(r.output, "WARN   CUDA_VISIBLE_DEVICES")) << r.output;
  EXPECT_TRUE(has(r.output, "entry 2 '7' is out of range: the machine has 3 GPUs")) << r.output;
}

TEST(Doctor, MasterPortInUseFailsWithAnotherPort) {
  Listener other_job;
  const std::string port = std::to_string(other_job.port);
  ScriptResult r = doctor("", healthy_env() + " MASTER_PORT=" + port);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "port " + port + " is in use (by another job?)")) << r.output;
  EXPECT_TRUE(has(r.output, "fix: set MASTER_PORT=")) << r.output;
  EXPECT_TRUE(has(r.output, "--master-port")) << r.output;

  ScriptResult flag = doctor("--master-port " + port, healthy_env());
  EXPECT_EQ(flag.exit_code, 1) << flag.output;
  // Only node 0 hosts the store.
  ScriptResult node1 = doctor("--node-rank 1 --master-port " + port, healthy_env());
  EXPECT_EQ(node1.exit_code, 0) << node1.output;
  EXPECT_TRUE(has(node1.output, "not checked on node 1")) << node1.output;
}

TEST(Doctor, OnlyLoopbackAndDockerWarnsWithSocketIfname) {
  ScriptResult r = doctor("", healthy_env("NCCL_SOCKET_IFNAME= GLOO_SOCKET_IFNAME=") +
                                  " TRAINRT_DOCTOR_NET_DIR='" + net_dir({"lo", "docker0"}).string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "WARN   network")) << r.output;
  EXPECT_TRUE(has(r.output, "only docker0, lo")) << r.output;
  EXPECT_TRUE(has(r.output, "NCCL_SOCKET_IFNAME=<interface>")) << r.output;
  EXPECT_TRUE(has(r.output, "GLOO_SOCKET_IFNAME=<interface>")) << r.output;
}

TEST(Doctor, SocketIfnameNamingNoInterfaceFails) {
  ScriptResult r = doctor("", healthy_env("NCCL_SOCKET_IFNAME=ib GLOO_SOCKET_IFNAME=eth0"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(has(r.output, "NCCL_SOCKET_IFNAME=ib matches no interface (have: eth0, lo)")) << r.output;
  EXPECT_TRUE(has(r.output, "ok     GLOO_SOCKET_IFNAME")) << r.output;
  ScriptResult excluded = doctor("", healthy_env("NCCL_SOCKET_IFNAME=^docker,lo GLOO_SOCKET_IFNAME="));
  EXPECT_EQ(excluded.exit_code, 0) << excluded.output;
  EXPECT_TRUE(has(excluded.output, "^docker,lo selects eth0")) << excluded.output;
}

TEST(Doctor, LimitedMemlockWarnsOnCuda) {
  ScriptResult r = doctor("--device cuda --nproc-per-node 1",
                          healthy_env(fake_gpus(1) + "TRAINRT_DOCTOR_MEMLOCK_BYTES=65536"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "WARN   memlock")) << r.output;
  EXPECT_TRUE(has(r.output, "ulimit -l unlimited")) << r.output;
  EXPECT_TRUE(has(r.output, "memlock: -1")) << r.output;
}

TEST(Doctor, UsageMistakesExitTwo) {
  EXPECT_EQ(doctor("--nproc-per-node zero", "").exit_code, 2);
  EXPECT_EQ(doctor("--frobnicate", "").exit_code, 2);
  ScriptResult help = doctor("--help", "");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(has(help.output, "usage: trainrt doctor")) << help.output;
}

// ---- trainrt launch runs the cheap checks before starting any worker ----

struct Launched {
  ScriptResult result;
  bool worker_ran = false;
  double seconds = 0;
};

Launched launch(const std::string& args, const std::string& env) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << "io.open('ran' .. os.getenv('RANK'), 'w'):close()\n";
  const auto start = std::chrono::steady_clock::now();
  Launched out;
  out.result = run_trainrt("launch --master-port 0 " + args + " script.lua", dir, env);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.worker_ran = std::filesystem::exists(dir / "ran0") || std::filesystem::exists(dir / "ran1");
  return out;
}

TEST(LaunchPreflight, SmallShmRefusesBeforeAnyWorkerStarts) {
  Launched l = launch("--nproc-per-node 2 --device cuda",
                      fake_gpus(2) + "TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20));
  EXPECT_EQ(l.result.exit_code, 1) << l.result.output;
  EXPECT_FALSE(l.worker_ran) << l.result.output;
  EXPECT_LT(l.seconds, 20) << l.result.output;
  EXPECT_TRUE(has(l.result.output, "trainrt launch: refusing to start 2 workers: shm /dev/shm")) << l.result.output;
  EXPECT_TRUE(has(l.result.output, "--shm-size=1g (or --ipc=host)")) << l.result.output;
  EXPECT_TRUE(has(l.result.output, "trainrt doctor --nproc-per-node 2")) << l.result.output;
}

TEST(LaunchPreflight, ReadsRunOptionsAfterTheScriptToo) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "script.lua") << "io.open('ran' .. os.getenv('RANK'), 'w'):close()\n";
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --master-port 0 script.lua --seed 3 --device cuda", dir,
                               fake_gpus(2) + "TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "ran0")) << r.output;
  EXPECT_TRUE(has(r.output, "--shm-size")) << r.output;
}

TEST(LaunchPreflight, MoreWorkersThanGpusRefuses) {
  Launched l = launch("--nproc-per-node 2 --device cuda", fake_gpus(1) + "TRAINRT_DOCTOR_SHM_BYTES=" +
                                                              std::to_string(8LL << 30));
  EXPECT_EQ(l.result.exit_code, 1) << l.result.output;
  EXPECT_FALSE(l.worker_ran) << l.result.output;
  EXPECT_TRUE(has(l.result.output, "--nproc-per-node 2 on cuda needs 2 GPUs, 1 visible")) << l.result.output;
}

TEST(LaunchPreflight, CpuWorkersNeedNoSharedMemory) {
  Launched l = launch("--nproc-per-node 2", "TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20));
  EXPECT_EQ(l.result.exit_code, 0) << l.result.output;
  EXPECT_TRUE(l.worker_ran) << l.result.output;
}

TEST(LaunchPreflight, CanBeSkipped) {
  Launched l = launch("--nproc-per-node 2 --device cuda",
                      fake_gpus(1) + "TRAINRT_LAUNCH_PREFLIGHT=0 TRAINRT_DOCTOR_SHM_BYTES=" + std::to_string(64 << 20));
  EXPECT_FALSE(has(l.result.output, "refusing to start")) << l.result.output;
}

}  // namespace
}  // namespace trainrt::test
