// Threads as ranks (Gloo's own tests do the same): N threads in this process,
// each with its own ProcessGroup over one in-memory store and Gloo's TCP
// transport on loopback. A failure on any rank is reported with its rank.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "trainrt/dist/process_group.h"

namespace trainrt::test {

using namespace std::chrono_literals;

struct RankOptions {
  std::chrono::milliseconds timeout = 20s;
  std::chrono::milliseconds heartbeat = 100ms;
  std::string backend = "gloo";
};

inline std::shared_ptr<dist::ProcessGroup> make_group(const std::shared_ptr<dist::Store>& store, int rank, int world,
                                                      const RankOptions& o) {
  dist::ProcessGroupOptions options;
  options.backend = o.backend;
  options.rank = rank;
  options.world_size = world;
  options.store = store;
  options.timeout = o.timeout;
  options.heartbeat = o.heartbeat;
  options.local_address = "127.0.0.1";
  auto group = dist::ProcessGroup::create(options);
  group->set_exit_on_remote_failure(false);  // the ranks are threads of the test process
  return group;
}

// Runs body(rank, group) on `world` threads; returns each rank's error ("" = none).
inline std::vector<std::string> run_ranks_collect(int world,
                                                  const std::function<void(int, dist::ProcessGroup&)>& body,
                                                  const RankOptions& o = {}) {
  auto store = dist::make_memory_store();
  std::vector<std::string> errors(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto group = make_group(store, r, world, o);
        body(r, *group);
      } catch (const std::exception& e) {
        errors[r] = e.what();
        if (errors[r].empty()) errors[r] = "(empty error)";
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

// Runs body on `world` ranks and fails the test with every rank's error.
inline void run_ranks(int world, const std::function<void(int, dist::ProcessGroup&)>& body, const RankOptions& o = {}) {
  std::vector<std::string> errors = run_ranks_collect(world, body, o);
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[r], "") << "rank " << r << " of " << world;
}

}  // namespace trainrt::test
