// Reads where this process stands in a job from the variables its starter set
// (trainrt launch / torchrun, then Open MPI, then Slurm), checks them and
// fills a DistEnv. Pure: the environment comes in through a lookup function and
// nothing is cached or written. Deliberately not here: hosting or joining the
// store, choosing devices from local_rank.
#include "trainrt/dist/env.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>

#include "trainrt/error.h"

namespace trainrt::dist {

namespace {

// The variables that give rank, size, local rank and local size for one starter.
struct LayoutNames {
  const char* source;
  const char* rank;
  const char* world_size;
  const char* local_rank;
  const char* local_world_size;
};

constexpr LayoutNames kTorchrun{"env", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"};
constexpr LayoutNames kOpenMpi{"mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                               "OMPI_COMM_WORLD_LOCAL_SIZE"};
// Slurm's local size has no single variable; see slurm_local_world_size.
constexpr LayoutNames kSlurm{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr};

// A variable's value; nullopt when unset or empty.
std::optional<std::string> read(const EnvLookup& getenv, const char* name) {
  const char* value = getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// NAME=value as an integer >= minimum; Error("NAME='x' is not an integer (expected ...)").
int parse_int(const char* name, const std::string& value, int minimum, const std::string& expected) {
  int parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  TRT_CHECK(error == std::errc() && end == value.data() + value.size(), name, "='", value,
            "' is not an integer (expected ", expected, ")");
  TRT_CHECK(parsed >= minimum, name, "=", value, " is below ", minimum, " (expected ", expected, ")");
  return parsed;
}

std::optional<int> read_int(const EnvLookup& getenv, const char* name, int minimum, const std::string& expected) {
  const std::optional<std::string> value = read(getenv, name);
  if (!value) return std::nullopt;
  return parse_int(name, *value, minimum, expected);
}

// Both of a pair, or neither: "RANK is set but WORLD_SIZE is not".
void require_pair(const EnvLookup& getenv, const char* first, const char* second) {
  const bool has_first = read(getenv, first).has_value();
  const bool has_second = read(getenv, second).has_value();
  TRT_CHECK(has_first == has_second, has_first ? first : second, " is set but ", has_first ? second : first,
            " is not; set both (or neither)");
}

// Tasks on node `node_id` from SLURM_TASKS_PER_NODE, e.g. "4(x2),3": nodes 0
// and 1 run 4 tasks, node 2 runs 3.
std::optional<int> tasks_on_node(const std::string& list, int node_id) {
  const std::string expected = "a Slurm task count list such as '4(x2),3'";
  size_t start = 0;
  int first_node = 0;
  while (start < list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    const size_t paren = item.find("(x");
    const int tasks = parse_int("SLURM_TASKS_PER_NODE", item.substr(0, paren), 1, expected);
    int repeat = 1;
    if (paren != std::string::npos) {
      TRT_CHECK(item.back() == ')', "SLURM_TASKS_PER_NODE='", list, "' is not ", expected);
      repeat = parse_int("SLURM_TASKS_PER_NODE", item.substr(paren + 2, item.size() - paren - 3), 1, expected);
    }
    if (node_id < first_node + repeat) return tasks;
    first_node += repeat;
    start = end + 1;
  }
  return std::nullopt;
}

// SLURM_NTASKS_PER_NODE when the job fixed it (--ntasks-per-node); otherwise
// this node's entry of SLURM_TASKS_PER_NODE (picked by SLURM_NODEID); else 1.
int slurm_local_world_size(const EnvLookup& getenv) {
  if (std::optional<int> fixed = read_int(getenv, "SLURM_NTASKS_PER_NODE", 1, "tasks per node, at least 1"))
    return *fixed;
  const std::optional<std::string> per_node = read(getenv, "SLURM_TASKS_PER_NODE");
  if (!per_node) return 1;
  const int node_id = read_int(getenv, "SLURM_NODEID", 0, "this node's index in the job, from 0").value_or(0);
  const std::optional<int> tasks = tasks_on_node(*per_node, node_id);
  TRT_CHECK(tasks, "SLURM_TASKS_PER_NODE='", *per_node, "' lists fewer nodes than SLURM_NODEID=", node_id, " + 1");
  return *tasks;
}

// Rank, sizes and local rank from one starter's variables, checked against each other.
void read_layout(const EnvLookup& getenv, const LayoutNames& names, DistEnv& env) {
  require_pair(getenv, names.rank, names.world_size);
  env.source = names.source;
  env.world_size = *read_int(getenv, names.world_size, 1, "the number of processes, at least 1");
  env.rank = *read_int(getenv, names.rank, 0, std::string("a rank from 0 to ") + names.world_size + "-1");
  if (names.local_world_size != nullptr) {
    require_pair(getenv, names.local_rank, names.local_world_size);
    env.local_world_size =
        read_int(getenv, names.local_world_size, 1, "the number of processes on this node, at least 1").value_or(1);
  } else {
    env.local_world_size = slurm_local_world_size(getenv);
  }
  env.local_rank = read_int(getenv, names.local_rank, 0, "a local rank from 0").value_or(0);

  TRT_CHECK(env.rank < env.world_size, names.rank, "=", env.rank, " is not below ", names.world_size, "=",
            env.world_size, "; the variables the job was started with disagree");
  const std::string local_size = names.local_world_size
                                     ? std::string(names.local_world_size) + "=" + std::to_string(env.local_world_size)
                                     : std::to_string(env.local_world_size) +
                                           ", this node's task count (SLURM_NTASKS_PER_NODE or SLURM_TASKS_PER_NODE)";
  TRT_CHECK(env.local_rank < env.local_world_size, names.local_rank, "=", env.local_rank, " is not below ", local_size,
            "; the variables the job was started with disagree");
}

// MASTER_ADDR (IPv6 brackets dropped); under Slurm without it, the first node
// of the allocation; else 127.0.0.1.
std::string master_addr(const EnvLookup& getenv, const std::string& source) {
  if (std::optional<std::string> addr = read(getenv, "MASTER_ADDR")) {
    if (addr->size() > 2 && addr->front() == '[' && addr->back() == ']') return addr->substr(1, addr->size() - 2);
    return *addr;
  }
  if (source != "slurm") return "127.0.0.1";
  for (const char* name : {"SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
    const std::optional<std::string> nodelist = read(getenv, name);
    if (!nodelist) continue;
    try {
      return first_slurm_host(*nodelist);
    } catch (const Error& e) {
      fail(std::string(name) + ": " + e.what());
    }
  }
  return "127.0.0.1";
}

// TRAINRT_RUN_ID, else the scheduler's job id, else "job"; a key component, so
// only letters, digits, '.', '_' and '-'.
std::string run_id(const EnvLookup& getenv) {
  for (const char* name : {kEnvRunId, "SLURM_JOB_ID", "OMPI_MCA_ess_base_jobid"}) {
    std::optional<std::string> value = read(getenv, name);
    if (!value) continue;
    bool ok = !value->empty() && value->size() <= 128;
    for (char c : *value) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    TRT_CHECK(ok, name, "='", *value, "' is not a job id (1 to 128 letters, digits, '.', '_' or '-')");
    return *value;
  }
  return "job";
}

}  // namespace

std::string DistEnv::store_url() const {
  if (!rdzv.empty()) return rdzv;
  const bool ipv6 = master_addr.find(':') != std::string::npos;
  return "tcp://" + (ipv6 ? "[" + master_addr + "]" : master_addr) + ":" + std::to_string(master_port);
}

// Precedence: torchrun-style variables, then Open MPI's, then Slurm's, then a
// job of one. A starter's own variables must agree with each other; the store
// variables (MASTER_*, TRAINRT_*) are read whichever starter it was.
DistEnv detect_dist_env(const EnvLookup& getenv) {
  DistEnv env;
  if (read(getenv, "RANK") || read(getenv, "WORLD_SIZE")) {
    read_layout(getenv, kTorchrun, env);
  } else if (read(getenv, "OMPI_COMM_WORLD_RANK") || read(getenv, "OMPI_COMM_WORLD_SIZE")) {
    read_layout(getenv, kOpenMpi, env);
  } else if (read(getenv, "SLURM_PROCID")) {  // srun sets it per task; an salloc shell does not
    read_layout(getenv, kSlurm, env);
  }

  env.master_addr = master_addr(getenv, env.source);
  env.master_port = read_int(getenv, "MASTER_PORT", 1, "a TCP port from 1 to 65535").value_or(kDefaultMasterPort);
  TRT_CHECK(env.master_port <= 65535, "MASTER_PORT=", env.master_port, " is not a TCP port (expected 1 to 65535)");

  if (std::optional<std::string> launcher = read(getenv, kEnvLauncher)) {
    TRT_CHECK(*launcher == "0" || *launcher == "1", kEnvLauncher, "='", *launcher, "' is not 0 or 1");
    env.launcher_hosts_store = *launcher == "1";
  }
  env.restart_count = read_int(getenv, kEnvRestartCount, 0, "the restart count, from 0").value_or(0);
  env.rdzv = read(getenv, kEnvRdzv).value_or("");
  env.run_id = run_id(getenv);
  return env;
}

DistEnv detect_dist_env() {
  return detect_dist_env([](const char* name) { return std::getenv(name); });
}

// The first comma-separated entry, with each bracketed range replaced by its
// first value as written ("gpu[01-04,07],cpu5" -> "gpu01"; padding kept).
std::string first_slurm_host(const std::string& nodelist) {
  std::string host;
  size_t i = 0;
  while (i < nodelist.size() && nodelist[i] != ',') {
    if (nodelist[i] != '[') {
      host.push_back(nodelist[i++]);
      continue;
    }
    const size_t close = nodelist.find(']', i);
    TRT_CHECK(close != std::string::npos, "cannot read the Slurm node list '", nodelist,
              "': unclosed '['; set MASTER_ADDR to the first node's address");
    const std::string ranges = nodelist.substr(i + 1, close - i - 1);
    const std::string first = ranges.substr(0, ranges.find_first_of(",-"));
    TRT_CHECK(!first.empty(), "cannot read the Slurm node list '", nodelist,
              "': empty range; set MASTER_ADDR to the first node's address");
    host += first;
    i = close + 1;
  }
  TRT_CHECK(!host.empty(), "cannot read the Slurm node list '", nodelist,
            "': no host in it; set MASTER_ADDR to the first node's address");
  return host;
}

}  // namespace trainrt::dist
