// The per-device generators: a snapshot restores the exact stream (what a
// checkpoint relies on for an exact resume), and reading, advancing and
// reseeding from several threads at once (data workers, device queues) is safe
// and loses no counter.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"
#include "trainrt/ops/creation.h"

namespace trainrt::test {
namespace {

TEST(GeneratorState, SnapshotRestoresTheExactStream) {
  manual_seed(42);
  ops::randn({17});
  GeneratorSnapshot saved = generator_snapshot();
  EXPECT_EQ(saved.default_seed, 42u);
  ASSERT_EQ(saved.devices.size(), 1u);
  EXPECT_EQ(saved.devices[0].first, Device::cpu());
  std::vector<double> expected = ops::rand({5}, 0, 1, DType::Float64).to_vector();
  manual_seed(7);  // anything else in between
  ops::rand({3});
  restore_generators(saved);
  EXPECT_EQ(ops::rand({5}, 0, 1, DType::Float64).to_vector(), expected);
  EXPECT_EQ(generator(Device::cpu()).seed, 42u);
}

TEST(GeneratorState, AdvanceReturnsSeedAndOffsetTogether) {
  manual_seed(5);
  GeneratorState a = generator_advance(Device::cpu(), 10);
  GeneratorState b = generator_advance(Device::cpu(), 3);
  EXPECT_EQ(a, (GeneratorState{5, 0}));
  EXPECT_EQ(b, (GeneratorState{5, 10}));
  EXPECT_EQ(generator(Device::cpu()).offset, 13u);
}

// Runs `draw` on 4 threads (kDraws times each) while `other` loops on one more.
template <typename Draw, typename Other>
void race(Draw draw, Other other) {
  std::atomic<bool> stop{false};
  std::thread side([&] {
    for (int i = 0; !stop; ++i) other(i);
  });
  std::vector<std::thread> drawers;
  for (int t = 0; t < 4; ++t) drawers.emplace_back(draw);
  for (auto& t : drawers) t.join();
  stop = true;
  side.join();
}
constexpr int kDraws = 20000;

TEST(GeneratorState, ConcurrentAdvancesLoseNoCounter) {
  manual_seed(1);
  // Meanwhile: snapshots, and generators of other devices created (the map grows).
  race([] { for (int i = 0; i < kDraws; ++i) generator_advance(Device::cpu(), 2); },
       [](int i) {
         (void)generator_snapshot();
         (void)generator(Device{DeviceType::CPU, 1 + i % 64}).seed;
       });
  EXPECT_EQ(generator(Device::cpu()).offset, uint64_t{2} * 4 * kDraws);
  EXPECT_EQ(generator(Device::cpu()).seed, 1u);
}

TEST(GeneratorState, ReseedingWhileOtherThreadsDrawIsSafe) {
  // manual_seed clears every generator: a reference held across it would
  // dangle; copies cannot. Each draw sees one consistent (seed, offset).
  manual_seed(100);
  race([] {
         for (int i = 0; i < kDraws; ++i) {
           GeneratorState s = generator_advance(Device::cpu(), 1);
           ASSERT_GE(s.seed, 100u);
           ASSERT_LT(s.seed, 100u + 1000000u);
         }
       },
       [](int i) { manual_seed(100 + static_cast<uint64_t>(i % 1000000)); });
}

}  // namespace
}  // namespace trainrt::test
