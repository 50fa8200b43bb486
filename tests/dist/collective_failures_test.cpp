// What a user sees when a collective cannot complete: a rank that never
// arrives (timeout naming the op, its sequence number and the missing rank),
// a peer that goes away (prompt failure, not a hang), a backend lacking an
// operation, and calls with bad tensors. Ranks are threads (rank_threads.h).
#include "dist/rank_threads.h"
#include "test_util.h"
#include "trainrt/ops/creation.h"

namespace trainrt::test {
namespace {

using dist::ProcessGroup;
using dist::ReduceOp;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(CollectiveTimeout, NamesOpSequenceAndTheRankThatNeverCalled) {
  RankOptions o;
  o.timeout = 1500ms;
  std::atomic<bool> others_done{false};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> errors = run_ranks_collect(
      3,
      [&](int rank, ProcessGroup& group) {
        Tensor t = ops::ones({10});
        group.all_reduce(t, ReduceOp::Sum)->wait();  // #1: everyone
        if (rank == 2) {                              // rank 2 never calls #2
          while (!others_done) std::this_thread::sleep_for(20ms);
          return;
        }
        try {
          group.all_reduce(t, ReduceOp::Sum)->wait();
        } catch (...) {
          if (rank == 0) others_done = true;
          throw;
        }
      },
      o);
  others_done = true;
  EXPECT_LT(seconds_since(start), 1.5 + 4.0) << "the timeout took far longer than --timeout";
  EXPECT_EQ(errors[2], "");
  for (int r : {0, 1}) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_NE(errors[r].find("all_reduce #2"), std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find("rank " + std::to_string(r) + ":"), std::string::npos) << errors[r];
  }
  // The rank that timed out first names the straggler; the other may instead
  // report that it stopped because of that failure.
  bool named = errors[0].find("did not arrive: 2") != std::string::npos ||
               errors[1].find("did not arrive: 2") != std::string::npos;
  EXPECT_TRUE(named) << errors[0] << "\n" << errors[1];
  EXPECT_TRUE(errors[0].find("timed out after 1.5 s") != std::string::npos ||
              errors[1].find("timed out after 1.5 s") != std::string::npos)
      << errors[0] << "\n" << errors[1];
}

TEST(CollectiveTimeout, LaterCollectivesAreRefusedAfterAFailure) {
  RankOptions o;
  o.timeout = 1000ms;
  std::vector<std::string> errors = run_ranks_collect(
      2,
      [&](int rank, ProcessGroup& group) {
        if (rank == 1) return;  // leaves at once: its group closes
        Tensor t = ops::ones({4});
        try {
          group.all_reduce(t, ReduceOp::Sum)->wait();
        } catch (const Error&) {
        }
        group.all_reduce(t, ReduceOp::Sum);  // must be refused, not hang
      },
      o);
  EXPECT_NE(errors[0].find("all_reduce refused: the process group failed earlier"), std::string::npos) << errors[0];
}

TEST(CollectivePeerGone, FailsPromptlyInsteadOfWaitingForTheTimeout) {
  RankOptions o;
  o.timeout = 20s;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> errors = run_ranks_collect(
      2,
      [&](int rank, ProcessGroup& group) {
        Tensor t = ops::ones({1000});
        group.all_reduce(t, ReduceOp::Sum)->wait();
        if (rank == 1) return;  // rank 1 goes away: its communicator closes its connections
        std::this_thread::sleep_for(200ms);
        group.all_reduce(t, ReduceOp::Sum)->wait();
      },
      o);
  EXPECT_LT(seconds_since(start), 10.0) << "a dead peer should fail the collective long before the 20 s timeout";
  EXPECT_NE(errors[0].find("rank 0: all_reduce #2"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("did not arrive: 1"), std::string::npos) << errors[0];
}

TEST(CollectiveBackend, MissingOperationIsNamed) {
  ASSERT_TRUE(load_plugin_file(TRAINRT_TEST_PLUGIN_DIR "/trt-test-partial-collective.so"));
  RankOptions o;
  o.backend = "partial";
  run_ranks(1, [&](int, ProcessGroup& group) {
    Tensor t = ops::ones({3});
    EXPECT_ERROR_CONTAINS(group.all_reduce(t, ReduceOp::Sum), "partial does not support all_reduce");
    EXPECT_ERROR_CONTAINS(group.broadcast(t, 0), "partial does not support broadcast");
    EXPECT_ERROR_CONTAINS(group.all_gather(t, t), "partial does not support all_gather");
    EXPECT_ERROR_CONTAINS(group.reduce_scatter(t, t, ReduceOp::Sum), "partial does not support reduce_scatter");
    group.barrier()->wait();
  }, o);
}

TEST(CollectiveBackend, UnknownBackendListsTheLoadedOnes) {
  RankOptions o;
  o.backend = "mpi";
  auto errors = run_ranks_collect(1, [](int, ProcessGroup&) {}, o);
  EXPECT_NE(errors[0].find("no collective backend 'mpi'"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("gloo"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("trainrt plugins"), std::string::npos) << errors[0];
}

TEST(CollectiveArguments, BadTensorsAreRefusedBeforeAnythingIsSent) {
  run_ranks(2, [&](int, ProcessGroup& group) {
    Tensor m = ops::ones({3, 4});
    EXPECT_ERROR_CONTAINS(group.all_reduce(m.t(), ReduceOp::Sum), "is not contiguous");
    Tensor bytes = ops::ones({4}, DType::UInt8);
    EXPECT_ERROR_CONTAINS(group.all_reduce(bytes, ReduceOp::Sum), "dtype uint8 is not supported");
    Tensor ints = ops::ones({4}, DType::Int64);
    EXPECT_ERROR_CONTAINS(group.all_reduce(ints, ReduceOp::Avg), "avg needs a floating-point tensor");
    EXPECT_ERROR_CONTAINS(group.all_gather(m, ops::ones({5})), "must hold 2 x 12 elements");
    EXPECT_ERROR_CONTAINS(group.reduce_scatter(ops::ones({5}), ops::ones({2}), ReduceOp::Sum),
                          "does not split evenly over 2 ranks");
    EXPECT_ERROR_CONTAINS(group.broadcast(m, 2), "root 2 is not a rank of this group");
    EXPECT_ERROR_CONTAINS(dist::parse_reduce_op("prod"), "unknown reduce op 'prod'");
    // Nothing was issued: the group still works.
    Tensor t = ops::ones({4});
    group.all_reduce(t, ReduceOp::Sum)->wait();
    EXPECT_EQ(t.to_vector()[0], 2.0);
  });
}

}  // namespace
}  // namespace trainrt::test
