// Joining a job through the rendezvous store (see rendezvous.h).
#include "trainrt/dist/rendezvous.h"

#include <unistd.h>

#include <sstream>

#include "trainrt/error.h"
#include "trainrt/log.h"

namespace trainrt::dist {
namespace {

std::string rank_key(int rank) { return "rank/" + std::to_string(rank); }

std::string seconds_text(std::chrono::milliseconds t) {
  std::ostringstream out;
  out << static_cast<double>(t.count()) / 1000.0 << " s";
  return out.str();
}

std::string hostname() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

// The store this process uses; rank 0 hosts the TCP store when no launcher does.
std::shared_ptr<Store> open_job_store(const DistEnv& env, const JoinOptions& options, Job& job) {
  if (env.world_size == 1 && env.rdzv.empty() && env.source == "none") return make_memory_store();
  std::string url = env.store_url();
  bool tcp = url.rfind("tcp://", 0) == 0;
  if (tcp && env.rank == 0 && !env.launcher_hosts_store) {
    try {
      job.server = std::make_unique<TcpStoreServer>("0.0.0.0", env.master_port);
    } catch (const Error& e) {
      fail(std::string("rank 0: ") + e.what() + " (MASTER_PORT=" + std::to_string(env.master_port) + ")");
    }
    log(LogLevel::Debug, "rank 0 hosts the rendezvous store on port " + std::to_string(job.server->port()));
  }
  try {
    return open_store(url, options.timeout);
  } catch (const Error& e) {
    fail("rank " + std::to_string(env.rank) + ": " + e.what());
  }
}

// Claims this rank, checks the world size against rank 0's, waits for every rank.
void join(Store& store, const DistEnv& env, std::chrono::milliseconds timeout) {
  const std::string me = "rank " + std::to_string(env.rank);
  if (store.add("claim/" + std::to_string(env.rank), 1) > 1)
    fail(me + " is taken by two processes of job '" + env.run_id +
         "': give every process its own RANK; when a file:// or redis:// store is reused, give each job its own "
         "TRAINRT_RUN_ID (trainrt launch --rdzv-id)");
  store.set(rank_key(env.rank), hostname() + " pid " + std::to_string(getpid()) + " world_size " +
                                    std::to_string(env.world_size));
  if (env.rank == 0) store.set("world_size", std::to_string(env.world_size));
  std::string first;
  try {
    first = store.get("world_size", timeout);
  } catch (const StoreTimeout&) {
    fail(me + ": rank 0 did not join within " + seconds_text(timeout) +
         "; is it running, with the same MASTER_ADDR/MASTER_PORT?");
  }
  if (first != std::to_string(env.world_size))
    fail(me + " was started with WORLD_SIZE=" + std::to_string(env.world_size) + ", rank 0 with WORLD_SIZE=" + first +
         ": every process of a job needs the same world size");

  std::vector<std::string> keys;
  for (int r = 0; r < env.world_size; ++r) keys.push_back(rank_key(r));
  try {
    store.wait(keys, timeout);
  } catch (const StoreTimeout&) {
    std::string missing;
    int count = 0;
    for (int r = 0; r < env.world_size; ++r)
      if (!store.check({rank_key(r)})) {
        missing += (count++ ? ", " : "") + std::to_string(r);
      }
    fail(me + ": rank" + (count == 1 ? " " : "s ") + missing + " of " + std::to_string(env.world_size) +
         " did not join within " + seconds_text(timeout) +
         "; were they started, with the same MASTER_ADDR/MASTER_PORT and WORLD_SIZE?");
  }
}

}  // namespace

std::shared_ptr<Job> join_job(const DistEnv& env, const JoinOptions& options) {
  auto job = std::make_shared<Job>();
  job->env = env;
  std::shared_ptr<Store> base = open_job_store(env, options, *job);
  job->store =
      make_prefix_store("trainrt/" + env.run_id + "/run" + std::to_string(env.restart_count) + "/", base);
  join(*job->store, env, options.timeout);

  ProcessGroupOptions pg;
  pg.backend = options.backend;
  pg.rank = env.rank;
  pg.world_size = env.world_size;
  pg.store = make_prefix_store("pg0/", job->store);
  pg.timeout = options.timeout;
  pg.device = options.device;
  job->group = ProcessGroup::create(pg);
  job->group->set_exit_on_remote_failure(true);
  return job;
}

}  // namespace trainrt::dist
