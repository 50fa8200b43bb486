// Ending a run while kernels are queued: Ctrl-C ends it promptly with the
// SIGINT status (130), a script error with status 1, both without a crash or
// hang on the device queue's thread (oneDNN convolutions still queued while
// the process tears down used to crash); and a kernel that fails after the
// script's last line is still reported.
#include <chrono>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(Interrupt, SigintDuringQueuedWorkExitsPromptly) {
  auto dir = make_temp_dir();
  std::ofstream(dir / "loop.lua") << R"lua(
local a = trainrt.randn({256, 256})
print("running")
io.stdout:flush()
while true do          -- far ahead of the queue: it is always full of matmuls
  for _ = 1, 50 do a = (a:matmul(a) * 1e-3):tanh() end
end
)lua";
  auto start = std::chrono::steady_clock::now();
  // timeout sends SIGINT after 2 s; --preserve-status returns the run's own status.
  std::string command = "cd '" + dir.string() + "' && timeout --preserve-status -s INT -k 20 2 '" + trainrt_binary() +
                        "' train loop.lua 2>&1; echo \"status=$?\"";
  std::string output = run_shell(command).output;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(output.find("running"), std::string::npos) << output;
  EXPECT_NE(output.find("status=130"), std::string::npos) << "expected the SIGINT status\n" << output;
  EXPECT_LT(seconds, 12) << "the run did not end promptly after SIGINT\n" << output;
  for (const char* crash : {"Segmentation", "Aborted", "terminate called", "core dumped"})
    EXPECT_EQ(output.find(crash), std::string::npos) << output;
}

TEST(Interrupt, AScriptErrorWithConvolutionsStillQueuedExitsCleanly) {
  ScriptResult r = run_lua_script(R"lua(
local conv = trainrt.nn.Conv2d(1, 32, 3, {padding = 1})
local x = trainrt.randn({64, 1, 28, 28}):requires_grad(true)
for _ = 1, 30 do conv(x):sum():backward() end   -- queued, nothing read
error("stopping with work queued")
)lua");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("stopping with work queued"), std::string::npos) << r.output;
  for (const char* crash : {"Segmentation", "Aborted", "terminate called"})
    EXPECT_EQ(r.output.find(crash), std::string::npos) << r.output;
}

TEST(Interrupt, AKernelThatFailsAfterTheLastLineIsReported) {
  ScriptResult r = run_lua_script(R"lua(
local logits = trainrt.randn({4, 10})
local loss = trainrt.F.cross_entropy(logits, trainrt.tensor({1, 2, 30, 4}):long())   -- never read
)lua");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("asynchronous error on cpu:0: cross_entropy: label 30 at index 2 out of range [0, 10)"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace trainrt::test
