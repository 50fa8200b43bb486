// detect_dist_env over fake environments (torchrun, Open MPI, Slurm, none),
// which starter wins when several left variables behind, every malformed value
// naming its variable, and first_slurm_host's node-list forms.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "trainrt/dist/env.h"
#include "trainrt/error.h"

namespace trainrt::dist {
namespace {

using Vars = std::map<std::string, std::string>;

DistEnv detect(const Vars& vars) {
  return detect_dist_env([&vars](const char* name) -> const char* {
    const auto found = vars.find(name);
    return found == vars.end() ? nullptr : found->second.c_str();
  });
}

std::string detect_error(const Vars& vars) {
  try {
    detect(vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const Vars kTorchrun = {{"RANK", "3"},        {"WORLD_SIZE", "8"},        {"LOCAL_RANK", "1"},
                        {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "1234"}};
const Vars kOpenMpi = {{"OMPI_COMM_WORLD_RANK", "5"},
                       {"OMPI_COMM_WORLD_SIZE", "6"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
                       {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"}};
const Vars kSlurm = {{"SLURM_PROCID", "6"},        {"SLURM_NTASKS", "7"},  {"SLURM_LOCALID", "2"},
                     {"SLURM_TASKS_PER_NODE", "4(x1),3"}, {"SLURM_NODEID", "1"}, {"SLURM_JOB_NODELIST", "gpu[01-02]"}};

Vars merged(Vars a, const Vars& b) {
  a.insert(b.begin(), b.end());
  return a;
}

TEST(DetectDistEnv, RunIdComesFromTrainrtThenTheSchedulersJobId) {
  EXPECT_EQ(detect({}).run_id, "job");
  EXPECT_EQ(detect(merged(kSlurm, {{"SLURM_JOB_ID", "4242"}})).run_id, "4242");
  EXPECT_EQ(detect(merged(kOpenMpi, {{"OMPI_MCA_ess_base_jobid", "77"}})).run_id, "77");
  EXPECT_EQ(detect(merged(kSlurm, {{"SLURM_JOB_ID", "4242"}, {"TRAINRT_RUN_ID", "exp-1.b"}})).run_id, "exp-1.b");
  const std::string bad = detect_error({{"TRAINRT_RUN_ID", "a/b"}});
  EXPECT_NE(bad.find("TRAINRT_RUN_ID='a/b' is not a job id"), std::string::npos) << bad;
}

TEST(DetectDistEnv, NothingSetMeansOneProcess) {
  const DistEnv env = detect({});
  EXPECT_EQ(env.source, "none");
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.local_world_size, 1);
  EXPECT_EQ(env.master_addr, "127.0.0.1");
  EXPECT_EQ(env.master_port, 29500);
  EXPECT_FALSE(env.launcher_hosts_store);
  EXPECT_EQ(env.restart_count, 0);
  EXPECT_EQ(env.store_url(), "tcp://127.0.0.1:29500");
}

TEST(DetectDistEnv, TorchrunVariables) {
  const DistEnv env = detect(merged(kTorchrun, {{"TRAINRT_LAUNCHER", "1"}, {"TRAINRT_RESTART_COUNT", "2"}}));
  EXPECT_EQ(env.source, "env");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "10.0.0.1");
  EXPECT_EQ(env.master_port, 1234);
  EXPECT_TRUE(env.launcher_hosts_store);
  EXPECT_EQ(env.restart_count, 2);
  EXPECT_EQ(env.store_url(), "tcp://10.0.0.1:1234");
}

TEST(DetectDistEnv, KubernetesStyleWithoutLocalVariablesIsOneProcessPerNode) {
  const DistEnv env = detect({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "job-master-0"}});
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.local_world_size, 1);
  EXPECT_EQ(env.store_url(), "tcp://job-master-0:29500");
}

TEST(DetectDistEnv, OpenMpiVariables) {
  const DistEnv env = detect(merged(kOpenMpi, {{"MASTER_ADDR", "node0"}}));
  EXPECT_EQ(env.source, "mpi");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 6);
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.local_world_size, 3);
  EXPECT_EQ(env.master_addr, "node0");
}

TEST(DetectDistEnv, OpenMpiWithoutMasterAddrUsesLoopback) {
  EXPECT_EQ(detect(kOpenMpi).master_addr, "127.0.0.1");
}

TEST(DetectDistEnv, SlurmVariablesAndTheFirstNodeAsMaster) {
  const DistEnv env = detect(kSlurm);
  EXPECT_EQ(env.source, "slurm");
  EXPECT_EQ(env.rank, 6);
  EXPECT_EQ(env.world_size, 7);
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.local_world_size, 3) << "node 1 of '4(x1),3' runs 3 tasks";
  EXPECT_EQ(env.master_addr, "gpu01");
  EXPECT_EQ(env.store_url(), "tcp://gpu01:29500");
}

TEST(DetectDistEnv, SlurmLocalSizeSources) {
  EXPECT_EQ(detect(merged({{"SLURM_NTASKS_PER_NODE", "5"}, {"SLURM_LOCALID", "4"}}, kSlurm)).local_world_size, 5)
      << "SLURM_NTASKS_PER_NODE wins when the job fixed it";
  EXPECT_EQ(detect(merged({{"SLURM_NODEID", "0"}}, kSlurm)).local_world_size, 4);
  EXPECT_EQ(detect({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}).local_world_size, 1);
  EXPECT_EQ(detect({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "12"}, {"SLURM_NODEID", "2"},
                    {"SLURM_TASKS_PER_NODE", "4(x3)"}, {"SLURM_LOCALID", "1"}})
                .local_world_size,
            4);
}

TEST(DetectDistEnv, SlurmMasterAddrAndNodeListFallbacks) {
  EXPECT_EQ(detect(merged({{"MASTER_ADDR", "10.1.1.1"}}, kSlurm)).master_addr, "10.1.1.1") << "MASTER_ADDR wins";
  Vars old_slurm = kSlurm;
  old_slurm.erase("SLURM_JOB_NODELIST");
  old_slurm["SLURM_NODELIST"] = "a-b[003-005]";
  EXPECT_EQ(detect(old_slurm).master_addr, "a-b003");
  old_slurm.erase("SLURM_NODELIST");
  EXPECT_EQ(detect(old_slurm).master_addr, "127.0.0.1");
}

TEST(DetectDistEnv, TorchrunBeatsOpenMpiBeatsSlurm) {
  const Vars all = merged(merged(kTorchrun, kOpenMpi), kSlurm);
  EXPECT_EQ(detect(all).source, "env");
  EXPECT_EQ(detect(all).rank, 3);
  Vars no_torchrun = all;
  for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}) no_torchrun.erase(name);
  EXPECT_EQ(detect(no_torchrun).source, "mpi");
  EXPECT_EQ(detect(no_torchrun).rank, 5);
  EXPECT_EQ(detect(no_torchrun).master_addr, "10.0.0.1") << "MASTER_ADDR is read whatever the starter";
  Vars slurm_only = no_torchrun;
  for (const auto& [name, value] : kOpenMpi) slurm_only.erase(name);
  EXPECT_EQ(detect(slurm_only).source, "slurm");
  EXPECT_EQ(detect(slurm_only).rank, 6);
}

TEST(DetectDistEnv, RendezvousUrlAndIpv6Master) {
  EXPECT_EQ(detect({{"TRAINRT_RDZV", "file:///shared/rdzv"}}).store_url(), "file:///shared/rdzv");
  EXPECT_EQ(detect({{"MASTER_ADDR", "fd00::1"}, {"MASTER_PORT", "4000"}}).store_url(), "tcp://[fd00::1]:4000");
  EXPECT_EQ(detect({{"MASTER_ADDR", "[fd00::1]"}}).master_addr, "fd00::1");
  EXPECT_EQ(detect({{"TRAINRT_LAUNCHER", "0"}}).launcher_hosts_store, false);
}

struct Malformed {
  std::string name;  // the test's name suffix
  Vars vars;
  std::string expected;  // a piece of the message: the variable, its value, what is wrong
};

void PrintTo(const Malformed& m, std::ostream* out) { *out << m.name; }

class DetectDistEnvMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(DetectDistEnvMalformed, NamesTheVariableAndTheValue) {
  const std::string message = detect_error(GetParam().vars);
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, DetectDistEnvMalformed,
    ::testing::Values(
        Malformed{"rank_not_integer", {{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK='x' is not an integer (expected a rank from 0 to "
                                                         "WORLD_SIZE-1)"},
        Malformed{"rank_fraction", {{"RANK", "1.5"}, {"WORLD_SIZE", "2"}}, "RANK='1.5' is not an integer"},
        Malformed{"rank_leading_space", {{"RANK", " 1"}, {"WORLD_SIZE", "2"}}, "RANK=' 1' is not an integer"},
        Malformed{"rank_overflow", {{"RANK", "99999999999"}, {"WORLD_SIZE", "2"}}, "RANK='99999999999' is not an integer"},
        Malformed{"rank_negative", {{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, "RANK=-1 is below 0"},
        Malformed{"world_size_zero", {{"RANK", "0"}, {"WORLD_SIZE", "0"}}, "WORLD_SIZE=0 is below 1"},
        Malformed{"rank_not_below_world_size", {{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK=2 is not below WORLD_SIZE=2"},
        Malformed{"rank_without_world_size", {{"RANK", "1"}}, "RANK is set but WORLD_SIZE is not"},
        Malformed{"world_size_without_rank", {{"WORLD_SIZE", "4"}}, "WORLD_SIZE is set but RANK is not"},
        Malformed{"local_rank_not_below_local_size", {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}},
                  "LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2"},
        Malformed{"local_rank_without_local_size", {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}}, "LOCAL_RANK is set but LOCAL_WORLD_SIZE"},
        Malformed{"local_rank_not_integer", {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "a"}, {"LOCAL_WORLD_SIZE", "2"}},
                  "LOCAL_RANK='a' is not an integer"},
        Malformed{"ompi_rank_not_below_size", {{"OMPI_COMM_WORLD_RANK", "4"}, {"OMPI_COMM_WORLD_SIZE", "4"}},
                  "OMPI_COMM_WORLD_RANK=4 is not below OMPI_COMM_WORLD_SIZE=4"},
        Malformed{"ompi_size_not_integer", {{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "two"}},
                  "OMPI_COMM_WORLD_SIZE='two' is not an integer"},
        Malformed{"slurm_procid_not_integer", {{"SLURM_PROCID", "x"}, {"SLURM_NTASKS", "2"}}, "SLURM_PROCID='x' is not an integer"},
        Malformed{"slurm_procid_without_ntasks", {{"SLURM_PROCID", "0"}}, "SLURM_PROCID is set but SLURM_NTASKS is not"},
        Malformed{"slurm_localid_not_below_tasks", {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "4"}, {"SLURM_NTASKS_PER_NODE", "4"}},
                  "SLURM_LOCALID=4 is not below 4, this node's task count"},
        Malformed{"slurm_tasks_per_node_malformed", {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_TASKS_PER_NODE", "4(x"}},
                  "SLURM_TASKS_PER_NODE='4(x' is not a Slurm task count list"},
        Malformed{"slurm_tasks_per_node_too_short", {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_TASKS_PER_NODE", "4"}, {"SLURM_NODEID", "1"}},
                  "SLURM_TASKS_PER_NODE='4' lists fewer nodes than SLURM_NODEID=1"},
        Malformed{"slurm_nodelist_unclosed", {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_JOB_NODELIST", "n[1-3"}},
                  "SLURM_JOB_NODELIST: cannot read the Slurm node list 'n[1-3': unclosed '['"},
        Malformed{"master_port_not_integer", {{"MASTER_PORT", "abc"}}, "MASTER_PORT='abc' is not an integer (expected a TCP port from 1 to 65535)"},
        Malformed{"master_port_zero", {{"MASTER_PORT", "0"}}, "MASTER_PORT=0 is below 1"},
        Malformed{"master_port_too_big", {{"MASTER_PORT", "70000"}}, "MASTER_PORT=70000 is not a TCP port"},
        Malformed{"restart_count_negative", {{"TRAINRT_RESTART_COUNT", "-1"}}, "TRAINRT_RESTART_COUNT=-1 is below 0"},
        Malformed{"launcher_not_bool", {{"TRAINRT_LAUNCHER", "yes"}}, "TRAINRT_LAUNCHER='yes' is not 0 or 1"}),
    [](const auto& info) { return info.param.name; });

TEST(FirstSlurmHost, ReadsEveryNodeListForm) {
  EXPECT_EQ(first_slurm_host("n1"), "n1");
  EXPECT_EQ(first_slurm_host("n1,n2"), "n1");
  EXPECT_EQ(first_slurm_host("n[1-3]"), "n1");
  EXPECT_EQ(first_slurm_host("gpu[01-04,07],cpu5"), "gpu01");
  EXPECT_EQ(first_slurm_host("a-b[003-005]"), "a-b003");
  EXPECT_EQ(first_slurm_host("x[7]"), "x7");
  EXPECT_EQ(first_slurm_host("node[12,3]"), "node12");
  EXPECT_EQ(first_slurm_host("rack[1-2]-n[08-09]"), "rack1-n08");
  EXPECT_EQ(first_slurm_host("node-1.cluster"), "node-1.cluster");
}

TEST(FirstSlurmHost, MalformedListsSaySetMasterAddr) {
  for (const std::string list : {"", "n[1-3", "n[]", ",n1"}) {
    try {
      first_slurm_host(list);
      ADD_FAILURE() << "no error for '" << list << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + list + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("set MASTER_ADDR"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace trainrt::dist
