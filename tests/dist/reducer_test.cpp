// The DDP reducer on real autograd graphs, with ranks as threads: gradients
// come out averaged over the ranks, buckets follow reverse registration order
// and start while backward is still running, no_sync accumulates, and unused
// parameters are either an error naming them or (find_unused) handled.
#include <cmath>

#include "dist/rank_threads.h"
#include "test_util.h"
#include "trainrt/autograd.h"
#include "trainrt/dist/reducer.h"
#include "trainrt/ops.h"

namespace trainrt::test {
namespace {

using dist::ProcessGroup;
using dist::Reducer;
using dist::ReducerOptions;

// A 3-layer float64 MLP whose initial values are the same on every rank.
struct Mlp {
  std::vector<Tensor> params;  // w1 (8,16) b1 (16) w2 (16,16) b2 (16) w3 (16,4) b3 (4)
  std::vector<std::string> names{"w1", "b1", "w2", "b2", "w3", "b3"};

  Mlp() {
    Shape shapes[] = {{8, 16}, {16}, {16, 16}, {16}, {16, 4}, {4}};
    int k = 0;
    for (const Shape& s : shapes) {
      int64_t n = numel_of(s);
      std::vector<double> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[i] = std::sin(0.37 * (i + 1) + k) * 0.5;
      Tensor p = Tensor::from_vector(v, s, DType::Float64);
      p.set_requires_grad(true);
      params.push_back(p);
      ++k;
    }
  }
  // (N, 8) -> (N, 4)
  Tensor forward(const Tensor& x, bool use_b3 = true) const {
    Tensor h = ops::relu(ops::linear(x, params[0].t(), params[1]));
    h = ops::tanh(ops::linear(h, params[2].t(), params[3]));
    return use_b3 ? ops::linear(h, params[4].t(), params[5]) : ops::matmul(h, params[4]);
  }
};

// Rank k's batch: (5, 8), different per rank.
Tensor batch_of(int rank, int salt = 0) {
  std::vector<double> v(40);
  for (int i = 0; i < 40; ++i) v[i] = std::cos(0.11 * i + 1.7 * rank + 0.3 * salt);
  return Tensor::from_vector(v, {5, 8}, DType::Float64);
}

Tensor loss_of(const Mlp& m, const Tensor& x, bool use_b3 = true) {
  Tensor y = m.forward(x, use_b3);
  return ops::mean(ops::mul(y, y));
}

// The average over ranks of each parameter's local gradient, computed here without a reducer.
std::vector<std::vector<double>> expected_average(int world, const std::vector<int>& salts) {
  std::vector<std::vector<double>> sum;
  for (int r = 0; r < world; ++r) {
    Mlp m;
    for (int salt : salts) loss_of(m, batch_of(r, salt)).backward();
    for (size_t i = 0; i < m.params.size(); ++i) {
      std::vector<double> g = m.params[i].grad().to_vector();
      if (sum.size() <= i) sum.push_back(std::vector<double>(g.size(), 0.0));
      for (size_t j = 0; j < g.size(); ++j) sum[i][j] += g[j] / world;
    }
  }
  return sum;
}

void expect_grads(const Mlp& m, const std::vector<std::vector<double>>& expected, const std::string& what) {
  for (size_t i = 0; i < m.params.size(); ++i) {
    Tensor g = m.params[i].grad();
    if (!g.defined()) fail(what + ": " + m.names[i] + " has no gradient");
    std::vector<double> got = g.to_vector();
    for (size_t j = 0; j < got.size(); ++j)
      if (std::abs(got[j] - expected[i][j]) > 1e-12 * std::max(1.0, std::abs(expected[i][j])))
        fail(what + ": " + m.names[i] + "[" + std::to_string(j) + "] = " + std::to_string(got[j]) + ", expected " +
             std::to_string(expected[i][j]));
  }
}

ReducerOptions small_buckets() {
  ReducerOptions o;
  o.bucket_bytes = 1024;        // w2 (2 KiB) alone, w1 (1 KiB) alone: several buckets
  o.first_bucket_bytes = 256;
  return o;
}

class ReducerByWorld : public ::testing::TestWithParam<int> {};

TEST_P(ReducerByWorld, GradientsAreTheAverageOverRanksAndBucketsOverlapBackward) {
  int world = GetParam();
  auto expected = expected_average(world, {0});
  run_ranks(world, [&](int rank, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names, small_buckets());
    loss_of(m, batch_of(rank)).backward();  // the reducer waits at the end of backward
    expect_grads(m, expected, "rank " + std::to_string(rank));
    const dist::ReducerStats& s = reducer.stats();
    if (s.buckets < 3) fail("expected several buckets, got " + std::to_string(s.buckets));
    if (s.buckets_started_during_backward < 1) fail("no bucket's all-reduce started before backward ended");
    if (s.steps != 1) fail("one synchronised step expected");
  });
}

TEST_P(ReducerByWorld, NoSyncAccumulatesLocallyThenAveragesTheSum) {
  int world = GetParam();
  auto expected = expected_average(world, {0, 1, 2});
  run_ranks(world, [&](int rank, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names, small_buckets());
    reducer.set_sync(false);
    loss_of(m, batch_of(rank, 0)).backward();
    loss_of(m, batch_of(rank, 1)).backward();
    if (reducer.stats().steps != 0) fail("no_sync backward passes must not communicate");
    reducer.set_sync(true);
    loss_of(m, batch_of(rank, 2)).backward();
    expect_grads(m, expected, "rank " + std::to_string(rank));
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, ReducerByWorld, ::testing::Values(2, 3),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST(Reducer, BucketsFollowReverseRegistrationOrderAndTheirCaps) {
  run_ranks(1, [&](int, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names, small_buckets());
    // Reverse order: b3 (32 B), w3 (512 B) -> first bucket reaches 256 B cap at w3;
    // b2 (128 B), w2 (2 KiB) -> cap 1 KiB reached; b1 (128 B), w1 (1 KiB) -> the last.
    std::vector<std::vector<size_t>> expected{{5, 4}, {3, 2}, {1, 0}};
    EXPECT_EQ(reducer.bucket_layout(), expected);
  });
}

TEST(Reducer, DefaultBucketsHoldASmallModelInOne) {
  run_ranks(1, [&](int, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names);
    EXPECT_EQ(reducer.bucket_layout().size(), 1u);
  });
}

TEST(Reducer, AParameterWithoutGradientIsAnErrorNamingIt) {
  auto errors = run_ranks_collect(2, [&](int rank, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names, small_buckets());
    loss_of(m, batch_of(rank), /*use_b3=*/false).backward();
  });
  for (const std::string& e : errors) {
    EXPECT_NE(e.find("got no gradient in this backward pass: b3"), std::string::npos) << e;
    EXPECT_NE(e.find("find_unused_parameters"), std::string::npos) << e;
  }
}

TEST(Reducer, FindUnusedAveragesZerosAndLeavesGloballyUnusedWithoutGradient) {
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    Mlp m;
    Tensor extra = Tensor::from_vector({1.0, 2.0}, {2}, DType::Float64);  // used by rank 0 only
    extra.set_requires_grad(true);
    Tensor never = Tensor::from_vector({3.0}, {1}, DType::Float64);  // used by no rank
    never.set_requires_grad(true);
    std::vector<Tensor> params = m.params;
    std::vector<std::string> names = m.names;
    params.push_back(extra);
    names.push_back("extra");
    params.push_back(never);
    names.push_back("never");
    ReducerOptions o = small_buckets();
    o.find_unused = true;
    Reducer reducer(group.shared_from_this(), params, names, o);
    Tensor loss = loss_of(m, batch_of(rank), /*use_b3=*/false);
    if (rank == 0) loss = ops::add(loss, ops::sum(ops::mul(extra, extra)));  // d/dextra = 2 * extra
    loss.backward();
    // rank 0 contributes (2, 4), rank 1 zeros: the average is (1, 2).
    std::vector<double> g = extra.grad().to_vector();
    if (g[0] != 1.0 || g[1] != 2.0) fail("extra's gradient should average to (1, 2)");
    if (never.grad().defined()) fail("a parameter no rank used must keep no gradient");
    if (m.params[5].grad().defined()) fail("b3 is unused on every rank and must keep no gradient");
    if (!m.params[4].grad().defined()) fail("w3 is used and must have a gradient");
  });
}

TEST(Reducer, TwoSynchronisedBackwardPassesAccumulateAveragedGradients) {
  auto expected = expected_average(2, {0, 1});
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    Mlp m;
    Reducer reducer(group.shared_from_this(), m.params, m.names, small_buckets());
    loss_of(m, batch_of(rank, 0)).backward();
    loss_of(m, batch_of(rank, 1)).backward();
    expect_grads(m, expected, "rank " + std::to_string(rank));
    if (reducer.stats().steps != 2) fail("two synchronised steps expected");
  });
}

}  // namespace
}  // namespace trainrt::test
