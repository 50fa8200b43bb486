// Every collective of the Gloo plugin through ProcessGroup, with 2, 3 and 4
// ranks as threads: each op and reduction, float32/float64/int64, tiny,
// odd-sized and multi-megabyte tensors, against values computed here.
#include <cmath>

#include "dist/rank_threads.h"
#include "trainrt/ops/creation.h"

namespace trainrt::test {
namespace {

using dist::ProcessGroup;
using dist::ReduceOp;

// A value every rank can compute for any rank: distinct per (rank, i), exact in every dtype.
double value_of(int rank, int64_t i) { return static_cast<double>((i * 7 + rank * 13) % 101) - 50.0 + rank; }

Tensor rank_tensor(int rank, int64_t n, DType dtype) {
  Tensor t = Tensor::empty({n}, dtype);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[i] = value_of(rank, i);
  return Tensor::from_vector(values, {n}, dtype);
}

double reduce_expected(ReduceOp op, int world, int64_t i) {
  double acc = value_of(0, i);
  for (int r = 1; r < world; ++r) {
    double v = value_of(r, i);
    if (op == ReduceOp::Sum || op == ReduceOp::Avg) acc += v;
    if (op == ReduceOp::Max) acc = std::max(acc, v);
    if (op == ReduceOp::Min) acc = std::min(acc, v);
  }
  return op == ReduceOp::Avg ? acc / world : acc;
}

// Checks every element (or a stride of them for big tensors); returns "" or the first mismatch.
std::string compare(const Tensor& t, const std::function<double(int64_t)>& expected, double tol) {
  std::vector<double> got = t.to_vector();
  int64_t step = got.size() > 100000 ? 997 : 1;
  for (int64_t i = 0; i < static_cast<int64_t>(got.size()); i += step)
    if (std::abs(got[i] - expected(i)) > tol * std::max(1.0, std::abs(expected(i))))
      return "element " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", expected " +
             std::to_string(expected(i));
  int64_t last = static_cast<int64_t>(got.size()) - 1;
  if (last >= 0 && std::abs(got[last] - expected(last)) > tol * std::max(1.0, std::abs(expected(last))))
    return "last element: got " + std::to_string(got[last]);
  return "";
}

void check_all_reduce(int world, DType dtype, ReduceOp op, int64_t n) {
  run_ranks(world, [&](int rank, ProcessGroup& group) {
    Tensor t = rank_tensor(rank, n, dtype);
    group.all_reduce(t, op)->wait();
    double tol = dtype == DType::Float32 ? 1e-6 : 1e-12;
    std::string bad = compare(t, [&](int64_t i) { return reduce_expected(op, world, i); }, tol);
    if (!bad.empty())
      fail(std::string("all_reduce ") + dist::reduce_op_name(op) + " " + dtype_name(dtype) + " n=" +
           std::to_string(n) + ": " + bad);
  });
}

class CollectivesByWorld : public ::testing::TestWithParam<int> {};

TEST_P(CollectivesByWorld, AllReduceEveryOpAndDtypeOnTinyAndOddSizes) {
  int world = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64})
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min}) {
      if (op == ReduceOp::Avg && dtype == DType::Int64) continue;
      for (int64_t n : {int64_t{1}, int64_t{1001}}) check_all_reduce(world, dtype, op, n);
    }
}

TEST_P(CollectivesByWorld, AllReduceMultiMegabyte) {
  check_all_reduce(GetParam(), DType::Float32, ReduceOp::Sum, 3 * 1024 * 1024 + 17);  // 12 MB
  check_all_reduce(GetParam(), DType::Float64, ReduceOp::Avg, 1024 * 1024 + 3);       // 8 MB
}

TEST_P(CollectivesByWorld, BroadcastFromEveryRoot) {
  int world = GetParam();
  for (int root = 0; root < world; ++root)
    for (DType dtype : {DType::Float32, DType::Int64})
      run_ranks(world, [&](int rank, ProcessGroup& group) {
        Tensor t = rank_tensor(rank, 1001, dtype);
        group.broadcast(t, root)->wait();
        std::string bad = compare(t, [&](int64_t i) { return value_of(root, i); }, 0);
        if (!bad.empty()) fail("broadcast from root " + std::to_string(root) + ": " + bad);
      });
}

TEST_P(CollectivesByWorld, AllGatherConcatenatesInRankOrder) {
  int world = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64})
    for (int64_t n : {int64_t{1}, int64_t{333}, int64_t{512 * 1024}})
      run_ranks(world, [&](int rank, ProcessGroup& group) {
        Tensor in = rank_tensor(rank, n, dtype);
        Tensor out = Tensor::empty({world, n}, dtype);
        group.all_gather(in, out)->wait();
        std::string bad = compare(out, [&](int64_t i) { return value_of(static_cast<int>(i / n), i % n); }, 0);
        if (!bad.empty()) fail(std::string("all_gather ") + dtype_name(dtype) + " n=" + std::to_string(n) + ": " + bad);
      });
}

TEST_P(CollectivesByWorld, ReduceScatterKeepsThisRanksChunk) {
  int world = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64})
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Avg}) {
      if (op == ReduceOp::Avg && dtype == DType::Int64) continue;
      int64_t chunk = 257;
      run_ranks(world, [&](int rank, ProcessGroup& group) {
        Tensor in = rank_tensor(rank, chunk * world, dtype);
        Tensor out = Tensor::empty({chunk}, dtype);
        group.reduce_scatter(in, out, op)->wait();
        double tol = dtype == DType::Float32 ? 1e-6 : 1e-12;
        std::string bad =
            compare(out, [&](int64_t i) { return reduce_expected(op, world, rank * chunk + i); }, tol);
        if (!bad.empty()) fail(std::string("reduce_scatter ") + dist::reduce_op_name(op) + ": " + bad);
      });
    }
}

TEST_P(CollectivesByWorld, BarrierWaitsForTheLastRank) {
  int world = GetParam();
  run_ranks(world, [&](int rank, ProcessGroup& group) {
    auto start = std::chrono::steady_clock::now();
    if (rank == world - 1) std::this_thread::sleep_for(300ms);
    group.barrier()->wait();
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited < 250ms) fail("rank " + std::to_string(rank) + " left the barrier before the last rank arrived");
  });
}

TEST_P(CollectivesByWorld, OperationsRunInIssueOrderWithoutWaitingInBetween) {
  int world = GetParam();
  run_ranks(world, [&](int rank, ProcessGroup& group) {
    std::vector<Tensor> tensors;
    std::vector<dist::WorkPtr> works;
    for (int k = 0; k < 8; ++k) {
      tensors.push_back(ops::full({100}, rank + k, DType::Float64));
      works.push_back(group.all_reduce(tensors.back(), ReduceOp::Sum));
    }
    for (auto& w : works) w->wait();
    for (int k = 0; k < 8; ++k) {
      double expected = world * k + world * (world - 1) / 2.0;
      if (tensors[k].to_vector()[99] != expected) fail("op " + std::to_string(k) + " has a wrong sum");
    }
    if (!works.back()->is_completed()) fail("a waited work reports incomplete");
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, CollectivesByWorld, ::testing::Values(2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

}  // namespace
}  // namespace trainrt::test
