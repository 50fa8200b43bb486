// `trainrt doctor [--nproc-per-node N] [--node-rank R] [--master-port P] [run options]`:
// runs every check of doctor.h for the run these options describe and prints
// one aligned table, each warning and failure followed by its fix. Exit code 1
// when a check failed (warnings do not fail), 0 otherwise, 2 for usage
// mistakes. Also `trainrt launch`'s preflight. Not here: the checks
// (doctor_checks.cpp).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/doctor.h"
#include "trainrt/device.h"
#include "trainrt/devices.h"
#include "trainrt/dist/env.h"
#include "trainrt/plugins.h"

namespace trainrt::cli {
namespace doctor {
namespace {

struct DoctorOptions {
  RunOptions run;
  int nproc_per_node = 0;  // 0: one per visible GPU on cuda, else 1
  int node_rank = -1;      // -1: NODE_RANK / GROUP_RANK, else 0
  int master_port = -1;    // -1: MASTER_PORT, else 29500
  bool help = false;
};

int parse_int(const std::string& flag, const std::string& value, int min, int max) {
  bool digits = !value.empty() && value.size() <= 9;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoi(value) < min || std::stoi(value) > max)
    throw UsageError(flag + " expects an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", got '" + value + "'");
  return std::stoi(value);
}

DoctorOptions parse_doctor_args(const std::vector<std::string>& args) {
  DoctorOptions o;
  for (size_t i = 0; i < args.size();) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return o;
    }
    const size_t eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    if (flag == "--nproc_per_node") flag = "--nproc-per-node";
    if (flag == "--node_rank") flag = "--node-rank";
    if (flag == "--master_port") flag = "--master-port";
    if (flag == "--nproc-per-node" || flag == "--node-rank" || flag == "--master-port") {
      std::string value;
      if (eq != std::string::npos) value = arg.substr(eq + 1);
      else if (i + 1 < args.size()) value = args[i + 1];
      else throw UsageError(flag + " expects a value, got nothing");
      if (flag == "--nproc-per-node") o.nproc_per_node = parse_int(flag, value, 1, 4096);
      else if (flag == "--node-rank") o.node_rank = parse_int(flag, value, 0, 1 << 20);
      else o.master_port = parse_int(flag, value, 0, 65535);
      i += eq != std::string::npos ? 1 : 2;
      continue;
    }
    const size_t used = take_run_option(args, i, o.run);
    if (used == 0) throw UsageError("unknown argument '" + arg + "' for trainrt doctor (see trainrt doctor --help)");
    i += used;
  }
  return o;
}

void print_doctor_usage() {
  std::printf(
      "usage: trainrt doctor [--nproc-per-node N] [--node-rank R] [--master-port P] [run options]\n\n"
      "Checks this machine for the run these options describe and prints a table: GPUs and\n"
      "CUDA_VISIBLE_DEVICES, CUDA driver/runtime, cuDNN and NCCL versions, plugins, /dev/shm,\n"
      "the memlock limit, network interfaces and MASTER_PORT. Each warning and failure comes\n"
      "with its fix. Exit code 1 when a check failed, 0 otherwise (warnings do not fail).\n\n"
      "  --nproc-per-node N   workers on this node (default: one per visible GPU with --device cuda, else 1)\n"
      "  --node-rank R        this node's rank; MASTER_PORT is checked on node 0 (default: NODE_RANK or 0)\n"
      "  --master-port P      the store's port (default: MASTER_PORT or 29500)\n\n"
      "run options (--device, --backend, --config, ...): as for trainrt train\n"
      "See docs/doctor.md for each check and the Docker settings that fix it.\n");
}

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  long n = std::strtol(value, &end, 10);
  return end != value && *end == '\0' && n >= 0 && n <= 65535 ? static_cast<int>(n) : fallback;
}

void set_device(Plan& plan, const std::string& device_text) {
  const Device device = Device::parse(device_text);
  plan.cuda = device.type == DeviceType::CUDA;
  plan.device_index = device.index;
}

void print_table(const std::vector<Check>& checks) {
  size_t width = 5;
  for (const Check& c : checks) width = std::max(width, c.name.size());
  const int w = static_cast<int>(width);
  std::printf("%-6s %-*s  %s\n", "status", w, "check", "detail");
  for (const Check& c : checks) {
    std::printf("%-6s %-*s  %s\n", status_text(c.status), w, c.name.c_str(), c.detail.c_str());
    if (c.status != Status::Ok && !c.fix.empty()) std::printf("%-6s %-*s  fix: %s\n", "", w, "", c.fix.c_str());
  }
}

void append(std::vector<Check>& to, std::vector<Check> rows) {
  to.insert(to.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
}

}  // namespace

int launch_preflight(int nproc_per_node, const std::vector<std::string>& run_options,
                     const std::vector<std::string>& script_args) {
  const char* skip = std::getenv("TRAINRT_LAUNCH_PREFLIGHT");
  if (skip && std::string(skip) == "0") return 0;
  RunOptions options;
  for (size_t i = 0; i < run_options.size();) i += std::max<size_t>(1, take_run_option(run_options, i, options));
  for (size_t i = 0; i < script_args.size() && script_args[i] != "--";) {
    try {
      i += std::max<size_t>(1, take_run_option(script_args, i, options));
    } catch (const UsageError&) {  // the worker reports it, as it always did
      ++i;
    }
  }
  // The config as the workers will read it, without applying it (no log
  // level, no warnings about unknown keys twice). A config mistake is left to
  // the workers, which report it as they always did.
  toml::table config;
  Plan plan;
  plan.nproc_per_node = nproc_per_node;
  try {
    config = config::load(options.config_file);
    for (const std::string& assignment : options.overrides) config::apply_override(config, assignment);
    set_device(plan, config["device"].value_or(std::string("cpu")));
    plan.backend = config["dist"]["backend"].value_or(std::string());
    if (plan.cuda) load_plugins(config::settings_of(config).plugin_paths);
  } catch (const Error&) {
    return 0;
  }

  std::vector<Check> checks = {check_shm(plan)};
  if (plan.cuda) checks.push_back(check_gpu_count(plan));
  int failed = 0;
  for (const Check& c : checks) {
    if (c.status != Status::Fail) continue;
    std::fprintf(stderr, "trainrt launch: refusing to start %d worker%s: %s: %s\n  fix: %s\n", nproc_per_node,
                 nproc_per_node == 1 ? "" : "s", c.name.c_str(), c.detail.c_str(), c.fix.c_str());
    ++failed;
  }
  if (failed)
    std::fprintf(stderr, "trainrt launch: `trainrt doctor --nproc-per-node %d` runs every check "
                         "(TRAINRT_LAUNCH_PREFLIGHT=0 skips these)\n", nproc_per_node);
  return failed ? 1 : 0;
}

}  // namespace doctor

int doctor_command(const std::vector<std::string>& args) {
  using namespace doctor;
  const DoctorOptions o = parse_doctor_args(args);
  if (o.help) {
    print_doctor_usage();
    return 0;
  }
  // The config and plugins as a run would have them, but not the device check:
  // a missing GPU is a row of the table here, not an error.
  toml::table config = config::load(o.run.config_file);
  for (const std::string& assignment : o.run.overrides) config::apply_override(config, assignment);
  const config::RunSettings settings = config::settings_of(config);
  load_plugins(settings.plugin_paths);

  Plan plan;
  set_device(plan, settings.device);
  plan.backend = settings.backend;
  plan.plugins_strict = settings.plugins_strict;
  const int gpus = plan.cuda && has_device_backend(DeviceType::CUDA) ? device_count(DeviceType::CUDA) : 0;
  plan.nproc_per_node = o.nproc_per_node > 0 ? o.nproc_per_node : plan.cuda ? std::max(1, gpus) : 1;
  plan.node_rank = o.node_rank >= 0 ? o.node_rank : env_int("NODE_RANK", env_int("GROUP_RANK", 0));
  plan.master_port = o.master_port >= 0 ? o.master_port : env_int("MASTER_PORT", dist::kDefaultMasterPort);

  std::printf("trainrt doctor: %d process%s per node on %s%s, node %d, MASTER_PORT %d\n\n", plan.nproc_per_node,
              plan.nproc_per_node == 1 ? "" : "es", settings.device.c_str(),
              plan.uses_nccl() ? " (NCCL)" : "", plan.node_rank, plan.master_port);
  std::vector<Check> checks;
  append(checks, check_gpus(plan));
  append(checks, check_libraries(plan));
  append(checks, check_plugins(plan));
  checks.push_back(check_shm(plan));
  checks.push_back(check_memlock(plan));
  append(checks, check_network());
  checks.push_back(check_master_port(plan));
  print_table(checks);

  int failed = 0, warned = 0;
  for (const Check& c : checks) {
    failed += c.status == Status::Fail;
    warned += c.status == Status::Warn;
  }
  std::printf("\n%s: %d failed, %d warning%s\n", failed ? "not ready" : "ready", failed, warned,
              warned == 1 ? "" : "s");
  return failed ? 1 : 0;
}

}  // namespace trainrt::cli
