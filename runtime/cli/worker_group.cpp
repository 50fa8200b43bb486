// Starting, watching and stopping the workers of `trainrt launch`, and
// forwarding their output (see worker_group.h). Between fork and exec the child
// makes only async-signal-safe calls: the launcher hosts the store on a thread.
// Not here: what the workers run or their environment (launch_command.cpp).
#include "cli/worker_group.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "trainrt/error.h"

namespace trainrt::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kTailLines = 20;
constexpr size_t kMaxLineBytes = 64 * 1024;    // a longer unfinished line is forwarded in pieces
constexpr size_t kMaxTailLineBytes = 1000;     // a kept line is cut here
constexpr int kPollMs = 100;
constexpr auto kDrainLimit = std::chrono::milliseconds(500);  // a leftover process may hold a pipe open
constexpr auto kKillWait = std::chrono::seconds(2);           // SIGKILLed processes go within milliseconds

std::string errno_text(int err) { return std::strerror(err); }

// write(2) until done. Output that cannot be written (the reader went away) is
// dropped: a closed log pipe must not take the training job down.
void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n >= 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (errno == EAGAIN) {  // someone made our stdout non-blocking
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, kPollMs);
    } else if (errno != EINTR) {
      return;
    }
  }
}

// What a terminal would show of a line: the text after the last carriage
// return (progress bars redraw with \r), cut to kMaxTailLineBytes.
std::string visible_text(std::string line) {
  while (!line.empty() && line.back() == '\r') line.pop_back();
  if (size_t cr = line.rfind('\r'); cr != std::string::npos) line.erase(0, cr + 1);
  if (line.size() > kMaxTailLineBytes) line = line.substr(0, kMaxTailLineBytes) + "...";
  return line;
}

// A worker whose stdout/stderr is a closed descriptor would get our pipe on fd
// 1 or 2 by accident; open /dev/null on any standard descriptor that is closed.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null = ::open("/dev/null", O_RDWR);
    TRT_CHECK(null == fd, "file descriptor ", fd, " is closed and /dev/null cannot replace it: ",
              errno_text(errno));
  }
}

struct Pipe {
  int read = -1, write = -1;
};

Pipe make_pipe(int rank, const char* stream) {
  int fds[2];
  TRT_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "cannot start rank ", rank, ": pipe for its ", stream, ": ",
            errno_text(errno), " (too many open files? check ulimit -n)");
  return {fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Async-signal-safe: writes "PREFIX<errno>\n" to stderr (the worker's pipe).
void child_fail(const char* prefix, int err) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + err % 10);
    err /= 10;
  } while (err > 0 && n < 15);
  char text[512];
  size_t len = 0;
  for (const char* p = prefix; *p && len < sizeof text - 20; ++p) text[len++] = *p;
  while (n > 0) text[len++] = digits[--n];
  text[len++] = '\n';
  [[maybe_unused]] ssize_t ignored = ::write(2, text, len);
  ::_exit(127);
}

// The child between fork and exec: async-signal-safe calls only.
[[noreturn]] void run_child(pid_t launcher, const Pipe& out, const Pipe& err, char* const* argv, char* const* envp,
                            const char* exec_failure) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT}) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Its own session and process group: a stop reaches what the worker started
  // (os.execute children), and a Ctrl-C reaches the launcher only, which forwards it.
  ::setsid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    child_fail("trainrt launch: prctl(PR_SET_PDEATHSIG) failed: errno ", errno);
  if (::getppid() != launcher) ::_exit(1);  // the launcher died before prctl took effect
  if (::dup2(out.write, 1) < 0 || ::dup2(err.write, 2) < 0) child_fail("trainrt launch: dup2 failed: errno ", errno);
  ::execve("/proc/self/exe", argv, envp);
  child_fail(exec_failure, errno);
  ::_exit(127);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::string describe_exit_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    std::string text = "was killed by signal " + std::to_string(sig);
    if (abbrev != nullptr) text += std::string(" (SIG") + abbrev + ")";
    if (WCOREDUMP(status)) text += ", core dumped";
    return text;
  }
  return "ended with wait status " + std::to_string(status);
}

// One of a worker's output streams and the unfinished line read from it.
struct OutputStream {
  int fd = -1;      // read end of the worker's pipe; -1 once it reached its end
  int out_fd = 1;   // where it is forwarded: 1 or 2
  std::string pending;
};

struct WorkerGroup::Worker {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  int status = 0;
  OutputStream streams[2];
  std::deque<std::string> tail;

  bool output_open() const { return streams[0].fd >= 0 || streams[1].fd >= 0; }
};

namespace {

void keep_line(std::deque<std::string>& tail, const std::string& line) {
  tail.push_back(visible_text(line));
  if (tail.size() > kTailLines) tail.pop_front();
}

// A finished line (without its newline) of a rank other than 0.
void emit_line(int rank, int out_fd, bool quiet, std::deque<std::string>& tail, const std::string& line) {
  keep_line(tail, line);
  if (quiet) return;
  std::string text = "[rank " + std::to_string(rank) + "] " + line + "\n";
  write_all(out_fd, text.data(), text.size());
}

}  // namespace

WorkerGroup::WorkerGroup(bool quiet_ranks) : quiet_ranks_(quiet_ranks) {}

WorkerGroup::~WorkerGroup() {
  for (auto& w : workers_) {
    if (w->running) {
      ::killpg(w->pid, SIGKILL);
      ::kill(w->pid, SIGKILL);
      while (::waitpid(w->pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    for (OutputStream& s : w->streams) close_fd(s.fd);
  }
}

void WorkerGroup::start(const std::vector<WorkerSpec>& specs) {
  ensure_standard_fds();
  const pid_t launcher = ::getpid();
  for (const WorkerSpec& spec : specs) {
    Pipe out = make_pipe(spec.rank, "stdout");
    Pipe err;
    try {
      err = make_pipe(spec.rank, "stderr");
    } catch (const Error&) {
      close_fd(out.read);
      close_fd(out.write);
      throw;
    }
    std::vector<char*> argv = c_strings(spec.argv);
    std::vector<char*> envp = c_strings(spec.env);
    const std::string exec_failure =
        "trainrt launch: cannot run /proc/self/exe for rank " + std::to_string(spec.rank) + ": execve errno ";

    // Signals stay blocked across fork so that the launcher's handlers never
    // run in the child; the child resets them and unblocks before exec.
    sigset_t all, previous;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous);
    const pid_t pid = ::fork();
    if (pid == 0) run_child(launcher, out, err, argv.data(), envp.data(), exec_failure.c_str());
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    close_fd(out.write);
    close_fd(err.write);
    if (pid < 0) {
      close_fd(out.read);
      close_fd(err.read);
      fail("cannot start rank " + std::to_string(spec.rank) + ": fork: " + errno_text(fork_errno) +
           " (process or memory limit reached?)");
    }
    auto worker = std::make_unique<Worker>();
    worker->rank = spec.rank;
    worker->pid = pid;
    worker->running = true;
    worker->streams[0] = {out.read, 1, {}};
    worker->streams[1] = {err.read, 2, {}};
    workers_.push_back(std::move(worker));  // from here on the destructor stops it
    for (OutputStream& s : workers_.back()->streams)
      TRT_CHECK(::fcntl(s.fd, F_SETFL, O_NONBLOCK) == 0, "cannot watch rank ", spec.rank,
                "'s output: fcntl(O_NONBLOCK): ", errno_text(errno));
  }
}

namespace {

// Forwards the complete lines in s.pending (rank 0's bytes were forwarded
// already); at_end also forwards an unfinished last line.
void take_lines(int rank, bool quiet, OutputStream& s, std::deque<std::string>& tail, bool at_end) {
  size_t start = 0;
  for (size_t nl; (nl = s.pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = s.pending.substr(start, nl - start);
    if (rank == 0) keep_line(tail, line);
    else emit_line(rank, s.out_fd, quiet, tail, line);
  }
  s.pending.erase(0, start);
  if (!s.pending.empty() && (at_end || s.pending.size() >= kMaxLineBytes)) {
    if (rank == 0) keep_line(tail, s.pending);
    else emit_line(rank, s.out_fd, quiet, tail, s.pending);
    s.pending.clear();
  }
}

// Reads what the pipe holds now (bounded, so one chatty worker cannot starve
// the others); closes it at its end.
void read_available(int rank, bool quiet, OutputStream& s, std::deque<std::string>& tail) {
  char buffer[65536];
  for (int round = 0; round < 16 && s.fd >= 0; ++round) {
    const ssize_t n = ::read(s.fd, buffer, sizeof buffer);
    if (n > 0) {
      if (rank == 0) write_all(s.out_fd, buffer, static_cast<size_t>(n));
      s.pending.append(buffer, static_cast<size_t>(n));
      take_lines(rank, quiet, s, tail, false);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    close_fd(s.fd);  // end of output (or a read error: nothing more will come)
    take_lines(rank, quiet, s, tail, true);
  }
}

int ms_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return kPollMs;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, kPollMs));
}

}  // namespace

void WorkerGroup::poll_outputs(int timeout_ms, int interrupt_fd, bool& interrupted) {
  std::vector<pollfd> fds;
  std::vector<std::pair<Worker*, OutputStream*>> owners;
  for (auto& w : workers_)
    for (OutputStream& s : w->streams)
      if (s.fd >= 0) {
        fds.push_back({s.fd, POLLIN, 0});
        owners.emplace_back(w.get(), &s);
      }
  if (interrupt_fd >= 0) fds.push_back({interrupt_fd, POLLIN, 0});
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return;  // a signal: its handler wrote to interrupt_fd
    fail(std::string("poll on the workers' output failed: ") + errno_text(errno));
  }
  for (size_t i = 0; i < owners.size(); ++i) {
    auto [worker, stream] = owners[i];
    if (fds[i].revents != 0) read_available(worker->rank, quiet_ranks_, *stream, worker->tail);
  }
  if (interrupt_fd >= 0 && (fds.back().revents & POLLIN)) interrupted = true;
}

bool WorkerGroup::reap(bool stop_at_failure) {
  bool failed = false;
  for (auto& w : workers_) {
    if (!w->running) continue;
    int status = 0;
    const pid_t got = ::waitpid(w->pid, &status, WNOHANG);
    if (got == 0 || (got < 0 && errno == EINTR)) continue;
    TRT_CHECK(got == w->pid, "waitpid for rank ", w->rank, " (pid ", w->pid,
              ") failed: ", errno_text(errno));
    w->running = false;
    w->status = status;
    // What it printed last is in its pipes now: forward it before anyone reports.
    for (OutputStream& s : w->streams)
      if (s.fd >= 0) read_available(w->rank, quiet_ranks_, s, w->tail);
    const bool success = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!success && stop_at_failure && failure_.rank < 0) {
      failure_ = {w->rank, w->pid, status};
      failed = true;
    }
  }
  return failed;
}

bool WorkerGroup::any_running() const {
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->running; });
}

bool WorkerGroup::any_output_open() const {
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->output_open(); });
}

WorkerGroup::Wait WorkerGroup::pump(Clock::time_point deadline, int interrupt_fd, bool stop_at_failure) {
  while (true) {
    if (reap(stop_at_failure)) return Wait::Failure;
    if (!any_running()) return Wait::AllReaped;
    if (Clock::now() >= deadline) return Wait::Deadline;
    bool interrupted = false;
    poll_outputs(ms_until(deadline), interrupt_fd, interrupted);
    if (interrupted) return Wait::Interrupted;
  }
}

WorkerGroup::Event WorkerGroup::watch(int interrupt_fd) {
  switch (pump(Clock::time_point::max(), interrupt_fd, true)) {
    case Wait::Failure:
      return Event::WorkerFailed;
    case Wait::Interrupted:
      return Event::Interrupted;
    default:
      drain(kDrainLimit);
      return Event::AllSucceeded;
  }
}

void WorkerGroup::signal_all(int signal) {
  for (auto& w : workers_) {
    // A finished worker whose pipes are still open left processes behind in its group.
    if (!w->running && !w->output_open()) continue;
    if (::killpg(w->pid, signal) != 0 && w->running) ::kill(w->pid, signal);  // not yet in its own group
  }
}

void WorkerGroup::stop(std::chrono::milliseconds grace, int interrupt_fd) {
  signal_all(SIGTERM);
  const Clock::time_point deadline = Clock::now() + grace;
  bool interrupted = pump(deadline, interrupt_fd, false) == Wait::Interrupted;
  // The workers are gone; what they started (os.execute) may hold their pipes still.
  while (!interrupted && any_output_open() && Clock::now() < deadline)
    poll_outputs(ms_until(deadline), interrupt_fd, interrupted);
  if (any_running() || any_output_open()) {
    signal_all(SIGKILL);
    pump(Clock::now() + kKillWait, -1, false);
  }
  drain(kDrainLimit);
}

void WorkerGroup::drain(std::chrono::milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  bool interrupted = false;
  while (Clock::now() < deadline && any_output_open()) poll_outputs(ms_until(deadline), -1, interrupted);
  for (auto& w : workers_)
    for (OutputStream& s : w->streams)
      if (s.fd >= 0) {
        close_fd(s.fd);
        take_lines(w->rank, quiet_ranks_, s, w->tail, true);
      }
}

std::vector<std::string> WorkerGroup::last_lines(int rank) const {
  for (const auto& w : workers_)
    if (w->rank == rank) return {w->tail.begin(), w->tail.end()};
  return {};
}

}  // namespace trainrt::cli
