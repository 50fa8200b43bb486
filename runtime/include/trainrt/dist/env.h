// Where this process stands in a job: its rank, the world size, its place on
// the node, and where the rendezvous store is, read from whatever started it:
//   trainrt launch / torchrun / Kubernetes operators: RANK, WORLD_SIZE,
//       LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT;
//   Open MPI (mpirun): OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE,
//       OMPI_COMM_WORLD_LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_SIZE;
//   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, and the first host
//       of SLURM_JOB_NODELIST when MASTER_ADDR is unset;
//   nothing: one process, rank 0 of 1.
// Deliberately pure (an environment in, a struct out), so tests pass their own.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace trainrt::dist {

// The variables `trainrt launch` sets for its workers beyond torchrun's.
inline constexpr const char* kEnvLauncher = "TRAINRT_LAUNCHER";      // "1": the launcher hosts the store
inline constexpr const char* kEnvRestartCount = "TRAINRT_RESTART_COUNT";  // 0, 1, ... (a fresh key space each)
inline constexpr const char* kEnvRdzv = "TRAINRT_RDZV";              // store URL when not tcp://MASTER
inline constexpr const char* kEnvTty = "TRAINRT_TTY";                // "1": stdout reaches a terminal via the launcher
inline constexpr const char* kEnvRunId = "TRAINRT_RUN_ID";           // this job's keys in a shared store
inline constexpr int kDefaultMasterPort = 29500;

struct DistEnv {
  std::string source = "none";  // "env" (launch/torchrun), "mpi", "slurm", "none"
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = kDefaultMasterPort;
  bool launcher_hosts_store = false;  // TRAINRT_LAUNCHER=1
  int restart_count = 0;
  std::string rdzv;  // TRAINRT_RDZV, "" = tcp://master_addr:master_port
  // Names this job's keys, so jobs sharing a file:// or redis:// store (and a
  // re-run against the same one) never read each other's: TRAINRT_RUN_ID
  // (trainrt launch --rdzv-id), else SLURM_JOB_ID, else Open MPI's job id, else "job".
  std::string run_id = "job";
  // The store URL this process uses: rdzv, else tcp://master_addr:master_port.
  std::string store_url() const;
};

// Reads the environment through `getenv` (std::getenv by default). A malformed
// value is an Error naming the variable and the value ("RANK='x' is not an
// integer"; "RANK=3 is not below WORLD_SIZE=2").
using EnvLookup = std::function<const char*(const char*)>;
DistEnv detect_dist_env(const EnvLookup& getenv);
DistEnv detect_dist_env();

// First host of a Slurm node list: "node[01-04,07],gpu5" -> "node01".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace trainrt::dist
