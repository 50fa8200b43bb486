// Ctrl-C while kernels are queued: the run ends promptly with the SIGINT
// status (130), without a crash or a hang on the device queue's thread.
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
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  pclose(pipe);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(output.find("running"), std::string::npos) << output;
  EXPECT_NE(output.find("status=130"), std::string::npos) << "expected the SIGINT status\n" << output;
  EXPECT_LT(seconds, 12) << "the run did not end promptly after SIGINT\n" << output;
  for (const char* crash : {"Segmentation", "Aborted", "terminate called", "core dumped"})
    EXPECT_EQ(output.find(crash), std::string::npos) << output;
}

}  // namespace
}  // namespace trainrt::test
