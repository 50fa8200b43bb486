// `trainrt launch [launch options] [run options] SCRIPT.lua [args...]`: runs
// --nproc-per-node workers (`trainrt train ...`) on this node as torchrun does,
// hosts the rendezvous store on node 0, restarts the group up to --max-restarts
// times and forwards SIGINT/SIGTERM. Exit code: 0 when every worker exited 0,
// 1 when a worker failed (after the restarts) or the store could not be hosted,
// 2 for usage mistakes, 130/143 after SIGINT/SIGTERM. Not here: processes and
// their output (worker_group.cpp), what workers make of the environment (dist/env.cpp).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/doctor.h"
#include "cli/worker_group.h"
#include "trainrt/dist/env.h"
#include "trainrt/dist/store.h"

extern char** environ;

namespace trainrt::cli {
namespace {

constexpr auto kStopGrace = std::chrono::seconds(3);  // SIGTERM, then SIGKILL

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = dist::kDefaultMasterPort;
  int max_restarts = 0;
  bool quiet_ranks = false;
  bool help = false;
  std::string rdzv;                      // "" = the launcher on node 0 hosts tcp://MASTER
  std::string rdzv_id;                   // TRAINRT_RUN_ID of the workers (see run_id_for)
  std::vector<std::string> run_options;  // forwarded verbatim before the script
  std::string script;
  std::vector<std::string> script_args;  // forwarded verbatim after the script

  int world_size() const { return nnodes * nproc_per_node; }
  bool hosts_store() const { return node_rank == 0 && rdzv.empty(); }
};

struct LaunchOptionSpec {
  std::string flag, alias, metavar, help;
};

const std::vector<LaunchOptionSpec>& launch_option_specs() {
  static const std::vector<LaunchOptionSpec> specs = {
      {"--nproc-per-node", "--nproc_per_node", "N", "workers on this node (default 1)"},
      {"--nnodes", "", "M", "nodes in the job (default 1)"},
      {"--node-rank", "--node_rank", "R", "this node's rank, 0 to M-1 (default 0)"},
      {"--master-addr", "--master_addr", "HOST", "address of node 0, which hosts the store (default 127.0.0.1)"},
      {"--master-port", "--master_port", "PORT",
       "store port on node 0 (default 29500; 0: any free port, one node only)"},
      {"--max-restarts", "--max_restarts", "K", "restart all workers up to K times after a failure (default 0)"},
      {"--rdzv", "", "URL", "use this store (tcp://HOST:PORT, file:///DIR, redis://HOST:PORT) instead of node 0's"},
      {"--rdzv-id", "--rdzv_id", "ID",
       "this job's name in a shared --rdzv store, the same on every node (default: a fresh id on one node)"},
      {"--quiet-ranks", "", "", "print only rank 0's output (the others' last lines still show on failure)"},
  };
  return specs;
}

void print_launch_usage() {
  std::printf("usage: trainrt launch [launch options] [run options] SCRIPT.lua [script options...]\n\n"
              "Runs SCRIPT.lua on --nproc-per-node worker processes on this node, like torchrun:\n"
              "each is `trainrt train [run options] SCRIPT.lua [script options...]` with RANK,\n"
              "LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set. Node 0\n"
              "hosts the rendezvous store. Rank 0's output is shown as is, the others' as\n"
              "\"[rank N] ...\". Exit code: 0 when all workers succeed, 1 when one fails,\n"
              "2 for usage mistakes, 130/143 after SIGINT/SIGTERM.\n\nlaunch options:\n");
  for (const LaunchOptionSpec& spec : launch_option_specs()) {
    std::string left = spec.flag + (spec.metavar.empty() ? "" : " " + spec.metavar);
    std::printf("  %-22s %s\n", left.c_str(), spec.help.c_str());
  }
  std::printf("\nrun options (forwarded to every worker): see trainrt train --help\n");
}

int parse_int(const std::string& flag, const std::string& value, int min, int max, const std::string& expected) {
  bool digits = !value.empty() && value.size() <= 9;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoi(value) < min || std::stoi(value) > max)
    throw UsageError(flag + " expects " + expected + ", got '" + value + "'");
  return std::stoi(value);
}

void set_launch_option(LaunchOptions& o, const std::string& flag, const std::string& value) {
  if (flag == "--nproc-per-node") o.nproc_per_node = parse_int(flag, value, 1, 4096, "a positive integer");
  else if (flag == "--nnodes") o.nnodes = parse_int(flag, value, 1, 1 << 20, "a positive integer");
  else if (flag == "--node-rank") o.node_rank = parse_int(flag, value, 0, 1 << 20, "a non-negative integer");
  else if (flag == "--master-port") o.master_port = parse_int(flag, value, 0, 65535, "a TCP port from 0 to 65535");
  else if (flag == "--max-restarts") o.max_restarts = parse_int(flag, value, 0, 1 << 20, "a non-negative integer");
  else if (flag == "--master-addr") {
    if (value.empty()) throw UsageError("--master-addr expects HOST, got ''");
    o.master_addr = value;
  } else if (flag == "--rdzv") {
    if (value.rfind("tcp://", 0) != 0 && value.rfind("file://", 0) != 0 && value.rfind("redis://", 0) != 0)
      throw UsageError("--rdzv expects a store URL (tcp://HOST:PORT, file:///DIR or redis://HOST:PORT), got '" +
                       value + "'");
    o.rdzv = value;
  } else if (flag == "--rdzv-id") {
    bool ok = !value.empty() && value.size() <= 128;
    for (char c : value) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
    if (!ok) throw UsageError("--rdzv-id expects 1 to 128 letters, digits, '.', '_' or '-', got '" + value + "'");
    o.rdzv_id = value;
  }
}

// If args[i] is a launch option ("--nnodes 2", "--nnodes=2", "--node_rank 1"),
// records it and returns how many arguments it used; 0 for anything else.
size_t take_launch_option(const std::vector<std::string>& args, size_t i, LaunchOptions& o) {
  const std::string& arg = args[i];
  const size_t eq = arg.find('=');
  const std::string given = arg.substr(0, eq);
  for (const LaunchOptionSpec& spec : launch_option_specs()) {
    if (given != spec.flag && (spec.alias.empty() || given != spec.alias)) continue;
    if (spec.metavar.empty()) {  // --quiet-ranks, the one switch
      if (eq != std::string::npos) throw UsageError(spec.flag + " takes no value, got '" + arg.substr(eq + 1) + "'");
      o.quiet_ranks = true;
      return 1;
    }
    if (eq != std::string::npos) {
      set_launch_option(o, spec.flag, arg.substr(eq + 1));
      return 1;
    }
    if (i + 1 >= args.size()) throw UsageError(spec.flag + " expects " + spec.metavar + ", got nothing");
    set_launch_option(o, spec.flag, args[i + 1]);
    return 2;
  }
  return 0;
}

void check_consistent(const LaunchOptions& o) {
  if (o.node_rank >= o.nnodes)
    throw UsageError("--node-rank " + std::to_string(o.node_rank) + " is not below --nnodes " +
                     std::to_string(o.nnodes) + " (node ranks are 0 to " + std::to_string(o.nnodes - 1) + ")");
  if (o.master_port == 0 && o.nnodes > 1)
    throw UsageError("--master-port 0 (any free port) works with --nnodes 1 only: the other nodes must know the "
                     "port; choose one, e.g. --master-port 29500");
  if (o.master_port == 0 && !o.rdzv.empty())
    throw UsageError("--master-port 0 asks the launcher to host the store on a free port, but --rdzv " + o.rdzv +
                     " names another store; drop one of them");
}

LaunchOptions parse_launch_args(const std::vector<std::string>& args) {
  LaunchOptions o;
  size_t i = 0;
  for (; i < args.size() && o.script.empty(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (size_t used = take_launch_option(args, i, o)) {
      i += used - 1;
      continue;
    }
    RunOptions probe;
    if (size_t used = take_run_option(args, i, probe)) {  // validated here, parsed again by each worker
      o.run_options.insert(o.run_options.end(), args.begin() + static_cast<long>(i),
                           args.begin() + static_cast<long>(i + used));
      i += used - 1;
      continue;
    }
    if (a.size() > 1 && a[0] == '-')
      throw UsageError("unknown option " + a +
                       " for trainrt launch (see trainrt launch --help; run options as for trainrt train)");
    o.script = a;
  }
  if (o.script.empty())
    throw UsageError("launch: missing SCRIPT.lua (usage: trainrt launch [launch options] [run options] SCRIPT.lua "
                     "[args...])");
  o.script_args.assign(args.begin() + static_cast<long>(i), args.end());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(o.script, ec))
    throw UsageError("cannot open script '" + o.script + "': no such file");
  check_consistent(o);
  return o;
}

// SIGINT and SIGTERM become a byte on a pipe that the watch loop polls; the
// handler does nothing else. SIGPIPE is ignored: a closed log reader must not
// kill the launcher (and with it, through PDEATHSIG, the training job).
volatile sig_atomic_t g_signal_write_fd = -1;

extern "C" void on_launcher_signal(int sig) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = ::write(g_signal_write_fd, &byte, 1);
  errno = saved;
}

class SignalPipe {
 public:
  SignalPipe() {
    int fds[2];
    TRT_CHECK(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0, "cannot watch for signals: pipe2: ", std::strerror(errno));
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    g_signal_write_fd = write_fd_;
    struct sigaction action {};
    action.sa_handler = on_launcher_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    TRT_CHECK(::sigaction(SIGINT, &action, &previous_int_) == 0 && ::sigaction(SIGTERM, &action, &previous_term_) == 0,
              "cannot watch for signals: sigaction: ", std::strerror(errno));
    action.sa_handler = SIG_IGN;
    TRT_CHECK(::sigaction(SIGPIPE, &action, &previous_pipe_) == 0, "cannot ignore SIGPIPE: ", std::strerror(errno));
  }
  ~SignalPipe() {
    ::sigaction(SIGINT, &previous_int_, nullptr);
    ::sigaction(SIGTERM, &previous_term_, nullptr);
    ::sigaction(SIGPIPE, &previous_pipe_, nullptr);
    g_signal_write_fd = -1;
    ::close(read_fd_);
    ::close(write_fd_);
  }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const { return read_fd_; }
  // The first signal received and not taken yet; 0 when none.
  int take() {
    unsigned char byte = 0;
    ssize_t n;
    while ((n = ::read(read_fd_, &byte, 1)) < 0 && errno == EINTR) {
    }
    return n == 1 ? byte : 0;
  }

 private:
  int read_fd_ = -1, write_fd_ = -1;
  struct sigaction previous_int_ {}, previous_term_ {}, previous_pipe_ {};
};

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Prints one line on stderr: "trainrt launch: <text>".
void say(const std::string& text) { std::fprintf(stderr, "trainrt launch: %s\n", text.c_str()); }

std::string plural(int n, const std::string& word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); }

int cores_available() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

std::string store_url(const LaunchOptions& o, int port) {
  if (!o.rdzv.empty()) return o.rdzv;
  const bool ipv6 = o.master_addr.find(':') != std::string::npos;
  return "tcp://" + (ipv6 ? "[" + o.master_addr + "]" : o.master_addr) + ":" + std::to_string(port);
}

// The job's key space in the store: --rdzv-id, else the user's TRAINRT_RUN_ID
// (or the scheduler's job id, read by the workers), else, on one node, a fresh
// id per launch, so re-running against the same file:// or redis:// store
// never meets the previous run's keys. Nodes of a multi-node job must agree,
// so they get no generated id.
std::string run_id_for(const LaunchOptions& o) {
  if (!o.rdzv_id.empty()) return o.rdzv_id;
  if (std::getenv(dist::kEnvRunId) || o.nnodes > 1) return "";
  std::random_device random;
  char id[32];
  std::snprintf(id, sizeof id, "launch-%08x%08x", random(), random());
  return id;
}

// The launcher's environment with the job's variables set (replacing inherited
// ones). The user's TRAINRT_DEFAULT_THREADS wins over ours.
std::vector<std::string> worker_env(const LaunchOptions& o, const std::string& run_id, int local_rank, int port,
                                    int restart) {
  const int rank = o.node_rank * o.nproc_per_node + local_rank;
  std::vector<std::pair<std::string, std::string>> ours = {
      {"RANK", std::to_string(rank)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"WORLD_SIZE", std::to_string(o.world_size())},
      {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
      {"GROUP_RANK", std::to_string(o.node_rank)},
      {"MASTER_ADDR", o.master_addr},
      {"MASTER_PORT", std::to_string(port)},
      {dist::kEnvLauncher, "1"},
      {dist::kEnvRestartCount, std::to_string(restart)},
  };
  if (!o.rdzv.empty()) ours.emplace_back(dist::kEnvRdzv, o.rdzv);
  if (!run_id.empty()) ours.emplace_back(dist::kEnvRunId, run_id);
  if (rank == 0 && ::isatty(STDOUT_FILENO)) ours.emplace_back(dist::kEnvTty, "1");
  if (std::getenv("TRAINRT_DEFAULT_THREADS") == nullptr)
    ours.emplace_back("TRAINRT_DEFAULT_THREADS", std::to_string(std::max(1, cores_available() / o.nproc_per_node)));

  auto replaced = [&](const std::string& entry) {
    const std::string name = entry.substr(0, entry.find('='));
    if (name == dist::kEnvRdzv || name == dist::kEnvTty) return true;  // only the launcher decides these
    for (const auto& [key, value] : ours)
      if (key == name) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (!replaced(*e)) env.emplace_back(*e);
  for (const auto& [key, value] : ours) env.push_back(key + "=" + value);
  return env;
}

std::string self_path() {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("trainrt") : path.string();
}

std::vector<WorkerSpec> worker_specs(const LaunchOptions& o, const std::string& run_id, int port, int restart) {
  std::vector<std::string> argv = {self_path(), "train"};
  argv.insert(argv.end(), o.run_options.begin(), o.run_options.end());
  argv.push_back(o.script);
  argv.insert(argv.end(), o.script_args.begin(), o.script_args.end());
  std::vector<WorkerSpec> specs;
  for (int local_rank = 0; local_rank < o.nproc_per_node; ++local_rank)
    specs.push_back({o.node_rank * o.nproc_per_node + local_rank, argv, worker_env(o, run_id, local_rank, port, restart)});
  return specs;
}

void print_last_lines(const WorkerGroup& group, int rank) {
  const std::vector<std::string> lines = group.last_lines(rank);
  if (lines.empty()) {
    say("rank " + std::to_string(rank) + " printed nothing");
    return;
  }
  std::string text = "trainrt launch: last lines of rank " + std::to_string(rank) + ":\n";
  for (const std::string& line : lines) text += "  " + line + "\n";
  std::fputs(text.c_str(), stderr);
}

// Stops the group after a SIGINT/SIGTERM to the launcher; returns the exit code (128 + signal).
int stop_for_signal(WorkerGroup& group, SignalPipe& signals, int sig) {
  say("received " + signal_name(sig) + "; stopping " + plural(static_cast<int>(group.size()), "worker") +
      " (SIGTERM, then SIGKILL after " + std::to_string(kStopGrace.count()) + " s)");
  group.stop(kStopGrace, signals.fd());
  return 128 + sig;
}

int run_job(const LaunchOptions& o) {
  SignalPipe signals;
  std::unique_ptr<dist::TcpStoreServer> store;  // alive across restarts
  int port = o.master_port;
  if (o.hosts_store()) {
    store = std::make_unique<dist::TcpStoreServer>("0.0.0.0", o.master_port);
    port = store->port();
  }
  say(plural(o.nproc_per_node, "worker") + " on node " + std::to_string(o.node_rank) + " of " +
      std::to_string(o.nnodes) + " (world size " + std::to_string(o.world_size()) + "), store " + store_url(o, port));
  const std::string run_id = run_id_for(o);  // one per launch: restarts keep it (their keys differ by count)

  for (int restart = 0;; ++restart) {
    WorkerGroup group(o.quiet_ranks);
    group.start(worker_specs(o, run_id, port, restart));
    const WorkerGroup::Event event = group.watch(signals.fd());
    if (event == WorkerGroup::Event::AllSucceeded) return 0;
    if (event == WorkerGroup::Event::Interrupted) return stop_for_signal(group, signals, signals.take());

    const WorkerExit failure = group.failure();
    say("rank " + std::to_string(failure.rank) + " (pid " + std::to_string(failure.pid) + ") " +
        describe_exit_status(failure.status));
    group.stop(kStopGrace, signals.fd());
    print_last_lines(group, failure.rank);
    if (const int sig = signals.take()) {  // the user asked to stop while we were stopping
      say("received " + signal_name(sig) + " while stopping the workers; not restarting");
      return 128 + sig;
    }
    if (restart >= o.max_restarts) {
      if (o.max_restarts > 0) say("giving up after " + plural(o.max_restarts, "restart"));
      return 1;
    }
    say("restarting the worker group (restart " + std::to_string(restart + 1) + " of " +
        std::to_string(o.max_restarts) + ") after rank " + std::to_string(failure.rank) + " failed");
  }
}

}  // namespace

int launch_command(const std::vector<std::string>& args) {
  const LaunchOptions options = parse_launch_args(args);
  if (options.help) {
    print_launch_usage();
    return 0;
  }
  // Before any worker starts: /dev/shm for NCCL, GPUs for --device cuda (doctor.h).
  if (doctor::launch_preflight(options.nproc_per_node, options.run_options, options.script_args) != 0) return 1;
  try {
    return run_job(options);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    say(e.what());
    return 1;
  }
}

}  // namespace trainrt::cli
