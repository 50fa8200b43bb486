// Shared by the checkpoint tests (lua_tests and dist_tests): a small training
// script that checkpoints through its strategy and can SIGKILL itself after
// step N, the CSV it trains on (shuffled, with dropout: every source of state
// matters), and a bitwise comparison of two saved training states.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "trainrt/checkpoint/safetensors.h"

namespace trainrt::test {

// 90 samples, 6 features, 3 classes: 12 batches of 8 per epoch (the last one of 2).
inline void write_training_csv(const std::filesystem::path& path) {
  std::ofstream out(path);
  out << "a,b,c,d,e,f,y\n";
  for (int i = 0; i < 90; ++i) {
    int y = i % 3;
    for (int k = 0; k < 6; ++k) out << ((i * 7 + k * 13) % 17) / 8.0 - 1.0 + (k == y ? 1.5 : 0.0) << ",";
    out << y << "\n";
  }
}

// --steps S (total optimizer steps), --kill-at N (SIGKILL itself right after
// step N and its checkpoint), --out FILE (the final state, saved through the
// strategy). Epochs end with a scheduler step and ck:after_epoch.
inline const char* kResumeScript = R"lua(
local nn, optim, data = require "trainrt.nn", require "trainrt.optim", require "trainrt.data"
local args = trainrt.args{ steps = 30, kill_at = 0, out = "final.safetensors", csv = "data.csv", batch_size = 8,
                           workers = 0 }
local strategy = trainrt.strategy()
local ds = data.dataset("csv", { path = args.csv, label = "y" })
local loader = strategy:loader(ds, { batch_size = args.batch_size, shuffle = true, workers = args.workers })
local model = nn.Sequential{ nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 3) }
local optimizer = optim.Adam{ model:parameters(), lr = 0.01 }
local scheduler = optim.StepLR(optimizer, { step_size = 1, gamma = 0.9 })
model, optimizer = strategy:setup(model, optimizer)
local criterion = nn.CrossEntropyLoss()
local ck = strategy:checkpointer{ model = model, optimizer = optimizer, scheduler = scheduler, loader = loader }
local epoch = ck:resume()
local function kill_self()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  io.stdout:flush()
  os.execute("kill -KILL " .. pid)
end
local done = ck.step >= args.steps
while not done do
  for x, y in loader do
    optimizer:zero_grad()
    strategy:backward(criterion(model(x), y))
    strategy:step(optimizer)
    ck:after_step()
    if ck.step == args.kill_at then kill_self() end
    if ck.step >= args.steps then done = true break end
  end
  if not done then
    scheduler:step()
    ck:after_epoch(epoch)
    epoch = epoch + 1
  end
end
strategy:save_checkpoint(args.out, { model = model, optimizer = optimizer, scheduler = scheduler, loader = loader,
                                     progress = { epoch = ck.epoch, step = ck.step } })
print(string.format("finished at step %d, epoch %d, rank %d of %d", ck.step, epoch, strategy.rank,
  strategy.world_size))
)lua";

// Every tensor of the two files and of their state files bit for bit, and the
// state JSON (optimizer steps and hyper-parameters, scheduler, loader position,
// generators, progress) equal except for the model file's own name. Across
// strategies (same_loader = false) the loader's batch size and world size differ.
inline void expect_same_training_state(const std::string& a, const std::string& b, bool same_loader = true) {
  auto tensors_equal = [](const std::string& pa, const std::string& pb) {
    checkpoint::File fa = checkpoint::read_file(pa), fb = checkpoint::read_file(pb);
    ASSERT_EQ(fa.tensors.size(), fb.tensors.size()) << pa << " vs " << pb;
    std::map<std::string, Tensor> by_name(fb.tensors.begin(), fb.tensors.end());
    for (const auto& [name, ta] : fa.tensors) {
      ASSERT_EQ(by_name.count(name), 1u) << name << " is missing from " << pb;
      const Tensor& tb = by_name[name];
      ASSERT_EQ(ta.sizes(), tb.sizes()) << name;
      ASSERT_EQ(ta.dtype(), tb.dtype()) << name;
      EXPECT_EQ(std::memcmp(ta.data_ptr(), tb.data_ptr(), ta.numel() * dtype_size(ta.dtype())), 0)
          << name << " differs between " << pa << " and " << pb;
    }
  };
  tensors_equal(a, b);
  std::string state_a = checkpoint::read_header(a).metadata.at("trainrt.state");
  std::string state_b = checkpoint::read_header(b).metadata.at("trainrt.state");
  std::string dir_a = std::filesystem::path(a).parent_path().string(), dir_b = std::filesystem::path(b).parent_path().string();
  tensors_equal(dir_a + "/" + state_a, dir_b + "/" + state_b);
  auto json_of = [&](const std::string& path) {
    auto j = nlohmann::json::parse(checkpoint::read_header(path).metadata.at("trainrt.state"));
    j.erase("model_file");
    if (!same_loader) j.erase("loader");
    return j;
  };
  EXPECT_EQ(json_of(dir_a + "/" + state_a).dump(), json_of(dir_b + "/" + state_b).dump());
}

}  // namespace trainrt::test
