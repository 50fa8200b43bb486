// bfloat16 autocast through the binary: `trainrt train --precision bf16` and the
// config key `precision` set it for the script, trainrt.autocast(p, fn) for a
// region (restored when fn raises), and a small model trains under it with
// float32 master weights to nearly the float32 run's loss. Bad values are
// one-line errors naming the flag or the config line.
#include <gtest/gtest.h>

#include <fstream>

#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

const char* kTrainBothWays = R"lua(
check(trainrt.precision() == "bf16", "the run's precision is bf16")
local function bf16_exact(t) return (F.round_bf16(t) - t):abs():max():item() == 0 end
local lin = nn.Linear(16, 8)
local x = trainrt.randn{ 32, 16 }
check(bf16_exact(lin(x)), "a linear layer's output holds bf16 values")
check(not trainrt.autocast("fp32", function() return bf16_exact(lin(x)) end), "an fp32 region is plain float32")
local ok = pcall(trainrt.autocast, "fp32", function() error("inside") end)
check(not ok and trainrt.precision() == "bf16", "a region that raises restores the precision")

-- The same small classifier trained under each precision from the same start.
local function train(precision)
  trainrt.manual_seed(3)
  local model = nn.Sequential{ nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4) }
  local opt = optim.Adam{ model:parameters(), lr = 3e-3 }
  local crit = nn.CrossEntropyLoss()
  local data_x = trainrt.randn{ 256, 20 }
  local data_y = data_x:narrow(2, 1, 4):argmax(2)  -- learnable: the largest of the first four features
  local first, last
  trainrt.autocast(precision, function()
    for step = 1, 150 do
      opt:zero_grad()
      local loss = crit(model(data_x), data_y)
      loss:backward()
      opt:step()
      first = first or loss:item()
      last = loss:item()
    end
  end)
  return first, last, model
end
local f32_first, f32_last = train("fp32")
local bf_first, bf_last, bf_model = train("bf16")
print(string.format("fp32 loss %.4f -> %.4f, bf16 loss %.4f -> %.4f", f32_first, f32_last, bf_first, bf_last))
check(bf_last < 0.3 * bf_first, "bf16 training lowers the loss")
check(math.abs(bf_last - f32_last) < 0.05 + 0.25 * f32_last, "bf16 ends near the fp32 loss")
check(bf_last ~= f32_last, "bf16 is not fp32")
check(not bf16_exact(bf_model[1].weight:detach()), "master weights stay float32")
)lua";

TEST(AutocastLua, PrecisionFlagTrainsNearFloat32WithFloat32MasterWeights) {
  expect_script_passes(kTrainBothWays,
                       {"the run's precision is bf16", "a linear layer's output holds bf16 values",
                        "an fp32 region is plain float32", "a region that raises restores the precision",
                        "bf16 training lowers the loss", "bf16 ends near the fp32 loss", "bf16 is not fp32",
                        "master weights stay float32"},
                       "--precision bf16 --threads 1");
}

TEST(AutocastLua, ConfigKeyAndBadValues) {
  std::filesystem::path dir = make_temp_dir();
  std::ofstream(dir / "p.lua") << "print('precision=' .. trainrt.precision())\n";
  std::ofstream(dir / "trainrt.toml") << "precision = \"bf16\"\n";
  ScriptResult r = run_trainrt("train p.lua", dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("precision=bf16"), std::string::npos) << r.output;
  r = run_trainrt("train p.lua --precision fp32", dir);  // the flag wins over the file
  EXPECT_NE(r.output.find("precision=fp32"), std::string::npos) << r.output;
  r = run_trainrt("train p.lua --precision fp16", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--precision: precision must be fp32 or bf16, got 'fp16'"), std::string::npos) << r.output;
  std::ofstream(dir / "trainrt.toml") << "precision = \"fp8\"\n";
  r = run_trainrt("train p.lua", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("trainrt.toml:1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("precision must be \"fp32\" or \"bf16\""), std::string::npos) << r.output;
  std::ofstream(dir / "p.lua") << "trainrt.autocast('int8', function() end)\n";
  std::ofstream(dir / "trainrt.toml") << "";
  r = run_trainrt("train p.lua", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("precision must be fp32 or bf16, got 'int8'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
