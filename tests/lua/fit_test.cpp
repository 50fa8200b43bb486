// trainrt.fit and trainrt.progress through the real binary, on synthetic data
// served by a pure-Lua loader (anything `for x, y in loader` accepts, with #).
#include <regex>

#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

// A batch iterator over (x, y) in order, with # = number of batches.
const char* kLoader = R"lua(
local function make_loader(x, y, batch)
  local n = x:size(1)
  local batches = (n + batch - 1) // batch
  local i = 0
  return setmetatable({}, {
    __len = function() return batches end,
    __call = function()
      i = i + 1
      if i > batches then i = 0; return nil end
      local start = (i - 1) * batch + 1
      local len = math.min(batch, n - start + 1)
      return x:narrow(1, start, len), y:narrow(1, start, len)
    end,
  })
end
)lua";

// Three Gaussian blobs in 2-d, classes 0, 1, 2.
const char* kBlobsData = R"lua(
local function blobs(n)
  local centers = { { 2, 0 }, { -2, 2 }, { 0, -2.5 } }
  local labels, offsets = {}, {}
  for i = 1, n do
    labels[i] = (i - 1) % 3
    offsets[i] = centers[labels[i] + 1]
  end
  return trainrt.randn(n, 2) * 0.6 + trainrt.tensor(offsets), trainrt.tensor(labels, { dtype = "int64" })
end
)lua";

std::string loader_and_data() { return std::string(kLoader) + kBlobsData; }

TEST(Fit, TrainsLogsEpochLinesCallsCallbacksAndReturnsHistory) {
  ScriptResult r = run_lua_script(std::string(kLuaCheckPrelude) + loader_and_data() + R"lua(
trainrt.manual_seed(31)
local xtr, ytr = blobs(300)
local xte, yte = blobs(90)
local model = nn.Sequential{ nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3) }
local opt = optim.SGD{ model:parameters(), lr = 0.2, momentum = 0.5 }
local seen = {}
local history = trainrt.fit{
  model = model,
  loss = nn.CrossEntropyLoss(),
  optimizer = opt,
  scheduler = optim.StepLR(opt, { step_size = 2, gamma = 0.5 }),
  train = make_loader(xtr, ytr, 32),
  test = make_loader(xte, yte, 45),
  epochs = 4,
  log_every = 4,
  callbacks = { on_epoch_end = function(epoch, logs) seen[#seen + 1] = epoch .. ":" .. string.format("%.4f", logs.loss) end },
}
check(#history.loss == 4 and #history.epochs == 4, "history has every epoch")
check(history.loss[4] < history.loss[1] * 0.7, "fit loss falls")
check(history.test_accuracy[4] > 0.9, "fit test accuracy")
check(history.lr[1] == 0.2 and history.lr[3] == 0.1, "scheduler stepped per epoch")
check(#seen == 4 and seen[4] == "4:" .. string.format("%.4f", history.loss[4]), "on_epoch_end gets epoch and logs")
check(model.training, "model left in training mode")
local stopped = trainrt.fit{
  model = model, optimizer = opt, train = make_loader(xtr, ytr, 100), epochs = 5,
  callbacks = { on_epoch_end = function(epoch) return epoch < 2 end },
}
check(#stopped.loss == 2 and stopped.test_accuracy == nil, "on_epoch_end returning false stops")
)lua");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* what : {"history has every epoch", "fit loss falls", "fit test accuracy",
                           "scheduler stepped per epoch", "on_epoch_end gets epoch and logs",
                           "model left in training mode", "on_epoch_end returning false stops"}) {
    EXPECT_NE(r.output.find(std::string("ok ") + what), std::string::npos) << what << "\n" << r.output;
  }
  // The epoch lines: key=value with the four standard keys first.
  std::regex epoch_line(R"(epoch=(\d+) loss=([0-9.]+) test_accuracy=([0-9.]+) samples_per_s=([0-9.]+))");
  int lines = 0;
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), epoch_line), end; it != end; ++it) {
    ++lines;
    EXPECT_EQ(std::stoi((*it)[1]), lines);
    EXPECT_GT(std::stod((*it)[4]), 0.0);
  }
  EXPECT_EQ(lines, 4) << r.output;
  // Not a TTY: plain step lines every log_every (4) steps of the 10 per epoch.
  EXPECT_NE(r.output.find("epoch 1/4 step 4/10 loss="), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch 4/4 step 8/10 loss="), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << "no bar redraws when not a TTY";
}

TEST(Fit, RegressionWithMseHasNoAccuracy) {
  expect_script_passes(loader_and_data() + R"lua(
trainrt.manual_seed(32)
local x = trainrt.randn(128, 3)
local y = x:matmul(trainrt.tensor{ { 1.0 }, { -2.0 }, { 0.5 } }) + 0.3  -- (128, 1)
local model = nn.Linear(3, 1)
local history = trainrt.fit{
  model = model, loss = nn.MSELoss(), optimizer = optim.Adam{ model:parameters(), lr = 0.05 },
  train = make_loader(x, y, 16), test = make_loader(x, y, 64), epochs = 30, quiet = true,
}
check(history.test_loss[30] < 0.01 and history.test_accuracy == nil, "mse regression converges without accuracy")
check_close(model.bias:item(), 0.3, 0.05, "regression recovers the bias")
)lua",
                       {"mse regression converges without accuracy", "regression recovers the bias"});
}

TEST(Progress, FormatsEpochLinesStepLinesAndTtyBar) {
  expect_script_passes(R"lua(
local progress = trainrt.progress
check(progress.format_logs{ epoch = 2, loss = 0.5, test_accuracy = 0.9125, samples_per_s = 1234.56, lr = 0.01,
  test_loss = 0.25 } == "epoch=2 loss=0.5000 test_accuracy=0.9125 samples_per_s=1234.6 lr=0.01 test_loss=0.2500",
  "epoch line format")
local function sink()
  local parts = {}
  return { write = function(self, ...) for _, s in ipairs{ ... } do parts[#parts + 1] = s end end,
           flush = function() end, text = function() return table.concat(parts) end }
end
local out = sink()
local p = progress.new{ total = 5, epoch = 1, epochs = 2, every = 2, tty = false, out = out }
for i = 1, 5 do p:update(10, 1.0 * i) end
local text = out.text()
check(text:find("epoch 1/2 step 2/5 loss=1.5000", 1, true) and text:find("step 4/5 loss=2.5000", 1, true)
  and not text:find("step 5/5", 1, true), "plain step lines every N steps")
check_close(p:mean_loss(), 3.0, 1e-12, "mean loss weights by samples")
local logs = p:finish{ test_accuracy = 0.5 }
check(out.text():find("\nepoch=1 loss=3.0000 test_accuracy=0.5000 samples_per_s=", 1, true) and logs.epoch == 1,
  "finish prints the epoch line")
local tty = sink()
local bar = progress.new{ total = 4, epoch = 3, epochs = 3, tty = true, out = tty }
for _ = 1, 4 do bar:update(8, 0.25) end
bar:finish{}
local t = tty.text()
check(t:find("\repoch 3/3 [", 1, true) and t:find("4/4 loss 0.2500", 1, true) and t:find("samples/s", 1, true)
  and t:find("ETA", 1, true), "tty bar shows step/total, loss, samples/s and ETA")
check(t:find("\nepoch=3 loss=0.2500", 1, true), "tty bar ends with the epoch line")
)lua",
                       {"epoch line format", "plain step lines every N steps", "mean loss weights by samples",
                        "finish prints the epoch line", "tty bar shows step/total, loss, samples/s and ETA",
                        "tty bar ends with the epoch line"});
}

}  // namespace
}  // namespace trainrt::test
