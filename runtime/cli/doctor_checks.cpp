// The checks of `trainrt doctor` (see doctor.h): shared memory, memlock,
// network interfaces, MASTER_PORT, GPUs and CUDA_VISIBLE_DEVICES, plugins and
// library versions. Each reads the machine once and says what to change; the
// thresholds and fixes are documented in docs/doctor.md. Not here: printing
// (doctor_command.cpp).
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "cli/doctor.h"
#include "trainrt/devices.h"
#include "trainrt/plugins.h"

namespace trainrt::cli::doctor {
namespace {

constexpr int64_t kMiB = int64_t(1) << 20;
constexpr int64_t kGiB = int64_t(1) << 30;
constexpr int64_t kDockerDefaultShm = 64 * kMiB;
constexpr int64_t kNcclShmPerRank = 32 * kMiB;
constexpr int64_t kNcclShmMinimum = 256 * kMiB;

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

std::optional<int64_t> env_bytes(const char* name) {
  const char* value = env(name);
  if (!value) return std::nullopt;
  char* end = nullptr;
  long long n = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || n < 0) return std::nullopt;
  return n;
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    std::string item = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) out.push_back(item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

Check row(std::string name, Status status, std::string detail, std::string fix = "") {
  return Check{std::move(name), status, std::move(detail), std::move(fix)};
}

std::string plural(int64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

const char* status_text(Status status) {
  switch (status) {
    case Status::Ok: return "ok";
    case Status::Warn: return "WARN";
    case Status::Fail: return "FAIL";
  }
  return "?";
}

// ---- /dev/shm ----

int64_t shm_needed(const Plan& plan) {
  if (!plan.uses_nccl()) return 0;
  return std::max(kNcclShmMinimum, kNcclShmPerRank * plan.nproc_per_node);
}

Check check_shm(const Plan& plan) {
  const std::string path = env("TRAINRT_DOCTOR_SHM_PATH") ? env("TRAINRT_DOCTOR_SHM_PATH") : "/dev/shm";
  const int64_t need = shm_needed(plan);
  const std::string why_need =
      need > 0 ? "needs " + format_bytes(need) + " for NCCL between " + std::to_string(plan.nproc_per_node) +
                     " local ranks (32 MiB each, at least 256 MiB)"
               : std::string("needs none for this run (no NCCL between local ranks; loader workers are threads)");
  const int64_t suggest_gib = std::max<int64_t>(1, (need + kGiB - 1) / kGiB);
  const std::string fix = "give the container more shared memory: docker run --shm-size=" +
                          std::to_string(suggest_gib) + "g (or --ipc=host); compose: shm_size: \"" +
                          std::to_string(suggest_gib) + "gb\" (or ipc: host); Kubernetes: an emptyDir with "
                          "medium: Memory mounted at /dev/shm";
  int64_t size = 0, available = 0;
  if (std::optional<int64_t> hook = env_bytes("TRAINRT_DOCTOR_SHM_BYTES")) {
    size = available = *hook;
  } else {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) != 0) {
      const std::string what = "cannot stat " + path + ": " + std::strerror(errno) + "; " + why_need;
      return row("shm " + path, need > 0 ? Status::Fail : Status::Warn, what, fix);
    }
    size = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize);
    available = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  }
  std::string detail = format_bytes(available) + " free of " + format_bytes(size) + "; " + why_need;
  if (available < need) return row("shm " + path, Status::Fail, detail, fix);
  if (size <= kDockerDefaultShm)
    return row("shm " + path, Status::Warn,
               detail + "; " + format_bytes(size) + " is Docker's default, too small for NCCL on 2+ GPUs", fix);
  return row("shm " + path, Status::Ok, detail);
}

// ---- memlock ----

Check check_memlock(const Plan& plan) {
  bool unlimited = false;
  int64_t limit = 0;
  const char* hook = env("TRAINRT_DOCTOR_MEMLOCK_BYTES");
  if (hook && std::string(hook) == "unlimited") {
    unlimited = true;
  } else if (std::optional<int64_t> bytes = env_bytes("TRAINRT_DOCTOR_MEMLOCK_BYTES")) {
    limit = *bytes;
  } else {
    rlimit rl{};
    if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
      return row("memlock", Status::Warn, std::string("getrlimit(RLIMIT_MEMLOCK): ") + std::strerror(errno));
    unlimited = rl.rlim_cur == RLIM_INFINITY;
    limit = unlimited ? 0 : static_cast<int64_t>(rl.rlim_cur);
  }
  if (unlimited) return row("memlock", Status::Ok, "unlimited");
  const std::string detail = "limited to " + format_bytes(limit);
  if (!plan.cuda) return row("memlock", Status::Ok, detail + " (only NCCL over InfiniBand/RoCE needs it unlimited)");
  return row("memlock", Status::Warn,
             detail + "; NCCL over InfiniBand/RoCE registers memory and wants it unlimited",
             "ulimit -l unlimited before the run; docker run --ulimit memlock=-1; compose: ulimits: memlock: -1");
}

// ---- network interfaces ----

namespace {

bool is_local_only(const std::string& name) { return name == "lo" || name.rfind("docker", 0) == 0; }

// NCCL_SOCKET_IFNAME: "eth,ib" prefixes, "=eth0" exact names, "^docker,lo" exclusions.
bool nccl_selects(const std::string& spec, const std::string& name) {
  std::string list = spec;
  const bool exclude = !list.empty() && list[0] == '^';
  if (exclude) list.erase(0, 1);
  const bool exact = !list.empty() && list[0] == '=';
  if (exact) list.erase(0, 1);
  bool matched = false;
  for (const std::string& item : split(list, ','))
    matched = matched || (exact ? name == item : name.rfind(item, 0) == 0);
  return exclude ? !matched : matched;
}

}  // namespace

std::vector<Check> check_network() {
  std::vector<Check> rows;
  std::map<std::string, std::vector<std::string>> ipv4;  // interface -> addresses
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
      ipv4[a->ifa_name].push_back(text);
    }
    ::freeifaddrs(list);
  }
  const std::string dir = env("TRAINRT_DOCTOR_NET_DIR") ? env("TRAINRT_DOCTOR_NET_DIR") : "/sys/class/net";
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) names.push_back(entry.path().filename());
  if (ec || names.empty())
    for (const auto& [name, addresses] : ipv4) names.push_back(name);
  std::sort(names.begin(), names.end());

  std::vector<std::string> described, candidates, addressed;
  for (const std::string& name : names) {
    auto it = ipv4.find(name);
    described.push_back(it == ipv4.end() ? name : name + " " + join(it->second, " "));
    if (is_local_only(name)) continue;
    candidates.push_back(name);
    if (it != ipv4.end()) addressed.push_back(name);
  }
  const std::vector<std::string>& picks = addressed.empty() ? candidates : addressed;
  rows.push_back(row("interfaces", Status::Ok, described.empty() ? "none found in " + dir : join(described)));

  const char* nccl = env("NCCL_SOCKET_IFNAME");
  const char* gloo = env("GLOO_SOCKET_IFNAME");
  const std::string have = "have: " + (names.empty() ? std::string("none") : join(names));
  if (nccl) {
    std::vector<std::string> chosen;
    for (const std::string& name : names)
      if (nccl_selects(nccl, name)) chosen.push_back(name);
    if (chosen.empty())
      rows.push_back(row("NCCL_SOCKET_IFNAME", Status::Fail,
                         std::string("NCCL_SOCKET_IFNAME=") + nccl + " matches no interface (" + have + ")",
                         "set NCCL_SOCKET_IFNAME to the interface that reaches the other nodes, one of: " +
                             join(names)));
    else
      rows.push_back(row("NCCL_SOCKET_IFNAME", Status::Ok, std::string(nccl) + " selects " + join(chosen)));
  }
  if (gloo) {
    std::vector<std::string> missing;
    for (const std::string& name : split(gloo, ','))
      if (std::find(names.begin(), names.end(), name) == names.end()) missing.push_back(name);
    if (!missing.empty())
      rows.push_back(row("GLOO_SOCKET_IFNAME", Status::Fail,
                         std::string("GLOO_SOCKET_IFNAME=") + gloo + ": no interface " + join(missing) + " (" + have +
                             ")",
                         "set GLOO_SOCKET_IFNAME to an existing interface, one of: " + join(names)));
    else
      rows.push_back(row("GLOO_SOCKET_IFNAME", Status::Ok, std::string(gloo) + " exists"));
  }
  if (picks.empty() && !(nccl && gloo)) {
    rows.push_back(row("network", Status::Warn,
                       "only " + (names.empty() ? std::string("no interfaces") : join(names)) +
                           ": fine on one node, but NCCL and Gloo cannot reach other nodes from here",
                       "for several nodes, run the container on the host's network (docker run --network host; "
                       "compose: network_mode: host) or attach it to one that reaches the others, then set "
                       "NCCL_SOCKET_IFNAME=<interface> and GLOO_SOCKET_IFNAME=<interface>"));
  } else if (!picks.empty()) {
    rows.push_back(row("network", Status::Ok,
                       "NCCL would use " + (nccl ? std::string("NCCL_SOCKET_IFNAME") : join(picks)) +
                           "; Gloo binds " + (gloo ? std::string(gloo) : "the address that routes to MASTER_ADDR")));
  }
  return rows;
}

// ---- MASTER_PORT ----

namespace {

// 0 when the port can be bound on every address as the store binds it, else errno.
int try_bind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const int result = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

}  // namespace

Check check_master_port(const Plan& plan) {
  const std::string port = std::to_string(plan.master_port);
  if (plan.node_rank != 0)
    return row("MASTER_PORT", Status::Ok, "not checked on node " + std::to_string(plan.node_rank) +
                                              ": node 0 hosts the store on port " + port);
  if (plan.master_port == 0) return row("MASTER_PORT", Status::Ok, "0: the launcher picks a free port");
  const int error = try_bind(plan.master_port);
  if (error == 0) return row("MASTER_PORT", Status::Ok, "port " + port + " is free on this node");
  int free_port = 0;
  for (int p = plan.master_port + 1; p <= std::min(65535, plan.master_port + 100) && free_port == 0; ++p)
    if (try_bind(p) == 0) free_port = p;
  const std::string other = free_port ? std::to_string(free_port) : "<another port>";
  const std::string fix = "set MASTER_PORT=" + other + " (or trainrt launch --master-port " + other +
                          "), the same on every node";
  if (error == EADDRINUSE)
    return row("MASTER_PORT", Status::Fail, "port " + port + " is in use (by another job?)", fix);
  return row("MASTER_PORT", Status::Fail, "cannot bind port " + port + ": " + std::strerror(error), fix);
}

// ---- GPUs ----

namespace {

// The physical GPUs' UUIDs in PCI bus order (nvidia-smi's numbering), from the
// driver's /proc files; empty when there is no driver (or in most containers,
// only the GPUs given to the container).
std::vector<std::string> physical_uuids() {
  const std::string dir =
      env("TRAINRT_DOCTOR_NVIDIA_GPUS_DIR") ? env("TRAINRT_DOCTOR_NVIDIA_GPUS_DIR") : "/proc/driver/nvidia/gpus";
  std::vector<std::string> buses;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) buses.push_back(entry.path().string());
  std::sort(buses.begin(), buses.end());
  std::vector<std::string> uuids;
  for (const std::string& bus : buses) {
    std::ifstream in(bus + "/information");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("GPU UUID:", 0) != 0) continue;
      size_t start = line.find_first_not_of(" \t", 9);
      if (start != std::string::npos) uuids.push_back(line.substr(start));
    }
  }
  return uuids;
}

std::string visible_text() { return "CUDA_VISIBLE_DEVICES=" + visible_devices_from_env().text; }

const char* kExposeGpus =
    "docker run --gpus all (or --gpus '\"device=0,1\"'); compose: deploy.resources.reservations.devices "
    "with driver: nvidia, capabilities: [gpu]";

}  // namespace

Check check_gpu_count(const Plan& plan) {
  if (!plan.cuda) return row("gpu count", Status::Ok, "not needed: a cpu run");
  const int needed = plan.nproc_per_node > 1 ? plan.nproc_per_node : plan.device_index + 1;
  const std::string what = plan.nproc_per_node > 1
                               ? "--nproc-per-node " + std::to_string(plan.nproc_per_node) + " on cuda needs " +
                                     plural(needed, "GPU")
                               : "--device cuda:" + std::to_string(plan.device_index) + " needs " +
                                     plural(needed, "GPU");
  if (!has_device_backend(DeviceType::CUDA))
    return row("gpu count", Status::Fail, what + ", but no plugin provides cuda",
               "build trainrt where nvcc exists (the ops-cuda plugin), or put ops-cuda on TRAINRT_PLUGIN_PATH; or "
               "run with --device cpu");
  const int count = device_count(DeviceType::CUDA);
  if (count == 0)
    return row("gpu count", Status::Fail,
               what + ", none visible (" + visible_text() + ", " + no_device_reason(DeviceType::CUDA) + ")",
               std::string("give the container the GPUs: ") + kExposeGpus +
                   "; check nvidia-smi on the host and CUDA_VISIBLE_DEVICES; or run with --device cpu");
  if (count < needed)
    return row("gpu count", Status::Fail, what + ", " + std::to_string(count) + " visible (" + visible_text() + ")",
               plan.nproc_per_node > 1
                   ? "run --nproc-per-node " + std::to_string(count) + ", or make more GPUs visible: " + kExposeGpus +
                         "; CUDA_VISIBLE_DEVICES"
                   : "use --device cuda:0 ... cuda:" + std::to_string(count - 1) +
                         " (cuda:N counts the visible GPUs), or make more GPUs visible");
  return row("gpu count", Status::Ok, std::to_string(count) + " visible, " + what.substr(what.find("needs ")));
}

std::vector<Check> check_gpus(const Plan& plan) {
  std::vector<Check> rows;
  const VisibleDevices visible = visible_devices_from_env();
  const int count = has_device_backend(DeviceType::CUDA) ? device_count(DeviceType::CUDA) : 0;
  if (count == 0 && !plan.cuda) {
    const std::string why = has_device_backend(DeviceType::CUDA) ? no_device_reason(DeviceType::CUDA)
                                                                  : "no plugin provides cuda";
    rows.push_back(row("gpus", Status::Ok, "none visible (" + visible_text() + ", " + why + "); cpu runs only"));
    return rows;
  }
  rows.push_back(check_gpu_count(plan));
  const std::vector<std::string> physical = physical_uuids();
  for (int i = 0; i < count; ++i) {
    const std::string name = "gpu cuda:" + std::to_string(i);
    try {
      DeviceProperties p = device_properties(Device{DeviceType::CUDA, i});
      std::string detail = p.name + ", " + p.uuid + ", " + format_bytes(p.total_memory) + " (" +
                           format_bytes(p.free_memory) + " free)";
      auto it = std::find(physical.begin(), physical.end(), p.uuid);
      if (it != physical.end()) detail += ", physical GPU " + std::to_string(it - physical.begin());
      if (visible.set && static_cast<size_t>(i) < visible.entries.size())
        detail += ", CUDA_VISIBLE_DEVICES entry " + std::to_string(i) + " '" + visible.entries[i] + "'";
      rows.push_back(row(name, Status::Ok, detail));
    } catch (const std::exception& e) {
      rows.push_back(row(name, Status::Fail, e.what(), "check the GPU with nvidia-smi; set NCCL_DEBUG=INFO"));
    }
  }
  if (!visible.set) return rows;
  // The driver ends the list at the first entry that is invalid, out of range or
  // repeated: the devices named after it are silently not visible.
  std::string problem;
  if (!physical.empty()) map_visible_devices(visible, physical, &problem);
  else if (visible.entries.size() > static_cast<size_t>(count) && count > 0)
    problem = "entry " + std::to_string(count) + " '" + visible.entries[count] + "' and the rest are not visible";
  if (visible.set && visible.entries.empty() && count == 0)
    problem = "it names no device";
  if (!problem.empty())
    rows.push_back(row("CUDA_VISIBLE_DEVICES", Status::Warn, visible.text + ": " + problem +
                                                                 " (the driver stops at the first invalid, "
                                                                 "out-of-range or repeated entry)",
                       "list existing GPUs once each: indices in nvidia-smi's order, or UUIDs from nvidia-smi -L; "
                       "in Docker, --gpus '\"device=...\"' numbers the container's GPUs from 0"));
  else
    rows.push_back(row("CUDA_VISIBLE_DEVICES", Status::Ok,
                       visible.text + ": cuda:N is the N-th entry" +
                           (physical.empty() ? "" : " (of " + plural(static_cast<int64_t>(physical.size()), "GPU") +
                                                        " on this machine)")));
  return rows;
}

// ---- plugins ----

std::vector<Check> check_plugins(const Plan& plan) {
  std::vector<Check> rows;
  std::vector<std::string> loaded;
  for (const PluginRecord& p : loaded_plugins()) loaded.push_back(p.name + " " + p.version);
  rows.push_back(row("plugins", Status::Ok, loaded.empty() ? "none loaded" : join(loaded)));
  for (const PluginRefusal& r : refused_plugins())
    rows.push_back(row("plugin refused", plan.plugins_strict ? Status::Fail : Status::Warn, r.path + ": " + r.reason,
                       "rebuild it against this trainrt (plugin ABI " + std::to_string(TRT_PLUGIN_ABI_VERSION) +
                           ") or remove it from TRAINRT_PLUGIN_PATH / plugins.paths (trainrt plugins lists them)"));
  return rows;
}

// ---- library versions ----

std::vector<Check> check_libraries(const Plan& plan) {
  std::vector<Check> rows;
  const int count = has_device_backend(DeviceType::CUDA) ? device_count(DeviceType::CUDA) : 0;
  const std::string unneeded = plan.cuda ? "" : " (not needed for a cpu run)";
  std::optional<DeviceProperties> gpu0;
  if (count > 0) {
    try {
      gpu0 = device_properties(Device{DeviceType::CUDA, 0});
    } catch (const std::exception&) {
    }
  }
  if (gpu0) {
    rows.push_back(row("cuda driver", Status::Ok, cuda_version_text(gpu0->driver_version)));
    rows.push_back(row("cuda runtime", Status::Ok, cuda_version_text(gpu0->runtime_version)));
  } else {
    LibraryVersion driver = cuda_driver_version();
    const std::string no_gpu = has_device_backend(DeviceType::CUDA) ? no_device_reason(DeviceType::CUDA)
                                                                     : "no plugin provides cuda";
    rows.push_back(row("cuda driver", Status::Ok,
                       driver.found ? driver.version + " (" + driver.path + "), but no GPU visible: " + no_gpu
                                    : "not found (" + driver.why + ")" + unneeded));
    rows.push_back(row("cuda runtime", Status::Ok, "not found (no GPU visible: " + no_gpu + ")" + unneeded));
  }
  LibraryVersion cudnn = cudnn_version();
  if (cudnn.found) rows.push_back(row("cudnn", Status::Ok, cudnn.version + " (" + cudnn.path + ")"));
  else
    rows.push_back(row("cudnn", plan.cuda ? Status::Warn : Status::Ok, "not found (" + cudnn.why + ")" + unneeded,
                       plan.cuda ? "install cuDNN 9 (a *-cudnn-runtime CUDA image, or libcudnn9-cuda-12); "
                                   "convolutions on cuda need it"
                                 : ""));
  LibraryVersion nccl = nccl_version();
  if (nccl.found) rows.push_back(row("nccl", Status::Ok, nccl.version + " (" + nccl.path + ")"));
  else
    rows.push_back(row("nccl", plan.uses_nccl() ? Status::Fail : Status::Ok,
                       "not found (" + nccl.why + ")" +
                           (plan.uses_nccl() ? "; ddp on cuda uses NCCL" : " (needed only for ddp on 2+ GPUs)"),
                       plan.uses_nccl()
                           ? "install NCCL 2 (libnccl2, or a CUDA image that has it), or run --backend gloo"
                           : ""));
  return rows;
}

}  // namespace trainrt::cli::doctor
