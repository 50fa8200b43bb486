// End to end: the shipped examples train on a small Fashion-MNIST subset through
// `trainrt train examples/mnist/*.lua`, as a user runs them. The loss must fall
// and test accuracy rise well above chance (0.1) within one short epoch.
#include <filesystem>
#include <regex>

#include "lua/lua_script_runner.h"
#include "requirements.h"

namespace trainrt::test {
namespace {

struct EpochLine {
  int epoch = 0;
  double loss = 0, test_accuracy = 0, samples_per_s = 0;
};

std::vector<EpochLine> epoch_lines(const std::string& output) {
  std::regex re(R"(epoch=(\d+) loss=([0-9.]+) test_accuracy=([0-9.]+) samples_per_s=([0-9.]+))");
  std::vector<EpochLine> lines;
  for (std::sregex_iterator it(output.begin(), output.end(), re), end; it != end; ++it) {
    lines.push_back({std::stoi((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return lines;
}

// Running mean losses printed on the plain (non-TTY) step lines, in order.
std::vector<double> step_losses(const std::string& output) {
  std::regex re(R"(epoch \d+/\d+ step \d+/\d+ loss=([0-9.]+))");
  std::vector<double> losses;
  for (std::sregex_iterator it(output.begin(), output.end(), re), end; it != end; ++it) {
    losses.push_back(std::stod((*it)[1]));
  }
  return losses;
}

void expect_example_learns(const std::string& example) {
  REQUIRE_FASHION_MNIST();
  ScriptResult r = run_trainrt("train examples/mnist/" + example +
                                   " --epochs 1 --limit 2000 --test-limit 2000 --batch-size 64 --log-every 5",
                               source_dir());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<EpochLine> epochs = epoch_lines(r.output);
  ASSERT_EQ(epochs.size(), 1u) << r.output;
  std::vector<double> losses = step_losses(r.output);
  ASSERT_GE(losses.size(), 3u) << r.output;  // 32 steps, a line every 5
  // Chance is ln(10) = 2.30 for the loss and 0.1 for the accuracy.
  EXPECT_LT(losses.back(), losses.front()) << r.output;
  EXPECT_LT(epochs[0].loss, 0.75 * 2.302585) << r.output;
  EXPECT_GT(epochs[0].test_accuracy, 0.5) << r.output;
  EXPECT_GT(epochs[0].samples_per_s, 0.0) << r.output;
}

TEST(TrainExamples, SeedCnnExplicitLoopLearnsOnSubset) { expect_example_learns("train.lua"); }

TEST(TrainExamples, KerasStyleFitLearnsOnSubset) { expect_example_learns("fit.lua"); }

TEST(TrainExamples, MlpLearnsOnSubset) { expect_example_learns("mlp.lua"); }

}  // namespace
}  // namespace trainrt::test
