// Joining a job: open the store this process was pointed at (hosting the TCP
// store here when this is rank 0 and no launcher hosts it), check that every
// rank agrees on the world size and that no rank is taken twice, wait until
// all ranks joined, then create the job's process group.
// Each failure is one line naming the rank and what to fix:
//   "rank 1 was started with WORLD_SIZE=3, rank 0 with WORLD_SIZE=2: ..."
//   "ranks 2, 3 of 4 did not join within 300 s: ..."
// Deliberately not here: reading the environment (env.h), collectives (process_group.h).
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "trainrt/dist/env.h"
#include "trainrt/dist/process_group.h"
#include "trainrt/dist/store.h"

namespace trainrt::dist {

struct JoinOptions {
  std::string backend;  // "" = default_backend(device.type)
  std::chrono::milliseconds timeout{300000};  // joining, and then every collective
  Device device = Device::cpu();
};

// One process's membership of a job; keeps the store (and its server) alive.
struct Job {
  DistEnv env;
  std::unique_ptr<TcpStoreServer> server;  // rank 0 without a launcher
  std::shared_ptr<Store> store;            // this run's keys (prefixed by the restart count)
  std::shared_ptr<ProcessGroup> group;
};

std::shared_ptr<Job> join_job(const DistEnv& env, const JoinOptions& options);

}  // namespace trainrt::dist
