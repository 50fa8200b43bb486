// The local workers of `trainrt launch`: starts them (fork + exec, each in its
// own session so a stop reaches its children too, killed with the launcher
// through PR_SET_PDEATHSIG), forwards their output (rank 0 byte for byte, the
// others line by line as "[rank N] "), keeps each rank's last lines, watches
// for exits and stops them (SIGTERM, a grace period, SIGKILL).
// Not here: options, the store, restarts, the launcher's signals (launch_command.cpp).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace trainrt::cli {

struct WorkerSpec {
  int rank = 0;                    // global rank: output prefix and messages
  std::vector<std::string> argv;   // argv[0] is shown by ps; the program is /proc/self/exe
  std::vector<std::string> env;    // the whole environment, "KEY=VALUE"
};

struct WorkerExit {
  int rank = -1;
  pid_t pid = -1;
  int status = 0;  // as waitpid reports it
};

// "exited with code 3", "was killed by signal 9 (SIGKILL)".
std::string describe_exit_status(int status);

class WorkerGroup {
 public:
  // Ranks other than 0 print nothing when quiet_ranks (their last lines are still kept).
  explicit WorkerGroup(bool quiet_ranks);
  // SIGKILLs and reaps whatever still runs: a group never outlives its owner.
  ~WorkerGroup();
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  // Starts one process per spec. Throws Error naming the rank and the failed call.
  void start(const std::vector<WorkerSpec>& specs);

  enum class Event { AllSucceeded, WorkerFailed, Interrupted };
  // Forwards output and reaps workers until every worker exited 0, one exited
  // otherwise (see failure()), or `interrupt_fd` became readable (not read here).
  Event watch(int interrupt_fd);
  const WorkerExit& failure() const { return failure_; }

  // Stops every worker still running: SIGTERM to its process group, SIGKILL
  // to what is left after `grace` (at once if `interrupt_fd` becomes readable),
  // then reaps them and forwards what they had left to print.
  void stop(std::chrono::milliseconds grace, int interrupt_fd);

  // The last lines rank printed (stdout and stderr, in arrival order).
  std::vector<std::string> last_lines(int rank) const;
  size_t size() const { return workers_.size(); }

 private:
  struct Worker;
  enum class Wait { AllReaped, Failure, Interrupted, Deadline };
  Wait pump(std::chrono::steady_clock::time_point deadline, int interrupt_fd, bool stop_at_failure);
  void poll_outputs(int timeout_ms, int interrupt_fd, bool& interrupted);
  bool reap(bool stop_at_failure);
  void signal_all(int signal);
  void drain(std::chrono::milliseconds limit);
  bool any_running() const;
  bool any_output_open() const;

  bool quiet_ranks_;
  std::vector<std::unique_ptr<Worker>> workers_;
  WorkerExit failure_;
};

}  // namespace trainrt::cli
