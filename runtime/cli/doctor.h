// `trainrt doctor`: preflight checks that say, before a run fails, what would
// make it fail and the specific fix (docs/doctor.md). Each check is a small
// function returning rows of {name, status, detail, fix}; doctor_command.cpp
// prints them as a table, and `trainrt launch` runs the cheap ones (shared
// memory, GPU count) before starting workers. Not here: fixing anything.
//
// Test hooks (environment; for tests, not for users):
//   TRAINRT_DOCTOR_SHM_PATH        the folder statvfs'd instead of /dev/shm
//   TRAINRT_DOCTOR_SHM_BYTES       the size (and free space) of /dev/shm, in bytes
//   TRAINRT_DOCTOR_MEMLOCK_BYTES   the memlock limit, in bytes or "unlimited"
//   TRAINRT_DOCTOR_NET_DIR         the folder listed instead of /sys/class/net
//   TRAINRT_DOCTOR_NVIDIA_GPUS_DIR the folder read instead of /proc/driver/nvidia/gpus
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trainrt::cli::doctor {

enum class Status { Ok, Warn, Fail };
const char* status_text(Status status);  // "ok", "WARN", "FAIL"

struct Check {
  std::string name;    // "/dev/shm"
  Status status = Status::Ok;
  std::string detail;  // what was found, against what is needed
  std::string fix;     // "" when ok
};

// The run being checked: what doctor's options, the config and the
// environment say about it.
struct Plan {
  int nproc_per_node = 1;
  bool cuda = false;        // --device cuda[:N]
  int device_index = 0;     // N of --device cuda:N
  std::string backend;      // --backend / [dist] backend; "" = nccl on cuda, gloo on cpu
  int node_rank = 0;        // MASTER_PORT is checked on node 0 only
  int master_port = 29500;  // --master-port, MASTER_PORT, else 29500
  bool plugins_strict = false;
  bool uses_nccl() const { return cuda && nproc_per_node > 1 && (backend.empty() || backend == "nccl"); }
};

// Bytes of /dev/shm the run needs on this node (documented in docs/doctor.md):
// NCCL's shared-memory transport, ~32 MiB per local rank and at least 256 MiB,
// when two or more local ranks use NCCL; 0 otherwise (trainrt's loader workers
// are threads and use no shared memory).
int64_t shm_needed(const Plan& plan);

// ---- the checks (doctor_checks.cpp) ----
Check check_shm(const Plan& plan);
Check check_memlock(const Plan& plan);
std::vector<Check> check_network();
Check check_master_port(const Plan& plan);
// Plugins must be loaded first. The count against --nproc-per-node (cheap: no
// device properties, so no CUDA context), then one row per visible GPU and the
// CUDA_VISIBLE_DEVICES mapping.
Check check_gpu_count(const Plan& plan);
std::vector<Check> check_gpus(const Plan& plan);
std::vector<Check> check_plugins(const Plan& plan);
std::vector<Check> check_libraries(const Plan& plan);

// ---- library versions, without linking the libraries (library_versions.cpp) ----
struct LibraryVersion {
  bool found = false;
  std::string version;  // "9.1.0"
  std::string path;     // the file dlopen found
  std::string why;      // when not found: dlerror's words, or the missing symbol
};
LibraryVersion cudnn_version();        // libcudnn.so.9 (or .8): cudnnGetVersion
LibraryVersion nccl_version();         // libnccl.so.2: ncclGetVersion
LibraryVersion cuda_driver_version();  // libcuda.so.1: cuDriverGetVersion (needs no GPU)
std::string cuda_version_text(int version);  // 12040 -> "12.4"

// `trainrt launch`'s preflight: the cheap checks for N workers with the run
// options given before the script and among its arguments (as `trainrt train`
// reads them, up to "--"). Prints each failure with its fix and returns 1,
// else returns 0. TRAINRT_LAUNCH_PREFLIGHT=0 skips it.
int launch_preflight(int nproc_per_node, const std::vector<std::string>& run_options,
                     const std::vector<std::string>& script_args);

}  // namespace trainrt::cli::doctor
