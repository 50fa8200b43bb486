// Epochs that would have no batch, through the binary: an empty dataset, a
// batch larger than the dataset with drop_last, an absurd batch size. Each is
// an error naming the dataset size, the batch size and drop_last, with a
// non-zero exit, instead of an epoch line with loss=nan and exit 0.
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

// A 5-sample CSV dataset, a loader with the given options and one fit epoch.
ScriptResult fit_on_five_samples(const std::string& subset, const std::string& loader_options) {
  return run_lua_script(R"lua(
local nn, optim, data = require "trainrt.nn", require "trainrt.optim", require "trainrt.data"
local f = assert(io.open("five.csv", "w"))
f:write("a,b,y\n")
for i = 1, 5 do f:write(i, ",", -i, ",", i % 2, "\n") end
f:close()
local ds = data.dataset("csv", { path = "five.csv", label = "y" })
)lua" + subset + R"lua(
local loader = data.DataLoader(ds, )lua" + loader_options + R"lua()
local model = nn.Linear(2, 2)
trainrt.fit{ model = model, optimizer = optim.SGD{ model:parameters(), lr = 0.1 }, train = loader, epochs = 1 }
)lua",
                        "", "fit");
}

TEST(EmptyEpoch, AnEmptyDatasetIsAnError) {
  ScriptResult r = fit_on_five_samples("ds = data.subset(ds, 0)", "{ batch_size = 4 }");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("fit.lua:9: DataLoader: the csv dataset has 0 samples, so every epoch would have no "
                          "batches (batch_size=4, drop_last=false)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("loss="), std::string::npos) << r.output;
}

TEST(EmptyEpoch, DropLastWithABatchLargerThanTheDatasetWarnsThenFails) {
  ScriptResult r = fit_on_five_samples("", "{ batch_size = 8, drop_last = true }");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string reason =
      "DataLoader: an epoch has no batches: the dataset has 5 samples, batch_size=8 and drop_last=true drops the only, "
      "incomplete batch; use batch_size <= 5 or drop_last=false";
  EXPECT_NE(r.output.find("trainrt: warning: " + reason), std::string::npos) << r.output;  // when built
  EXPECT_NE(r.output.find(": " + reason + "\nstack traceback"), std::string::npos) << r.output;  // when iterated
  EXPECT_EQ(r.output.find("loss=nan"), std::string::npos) << r.output;
}

TEST(EmptyEpoch, AnAbsurdBatchSize) {
  ScriptResult dropped = fit_on_five_samples("", "{ batch_size = math.maxinteger, drop_last = true }");
  EXPECT_EQ(dropped.exit_code, 1) << dropped.output;
  EXPECT_NE(dropped.output.find("the dataset has 5 samples, batch_size=9223372036854775807 and drop_last=true"),
            std::string::npos)
      << dropped.output;
  // Without drop_last it is one batch of all 5 samples (it used to overflow to 0 batches).
  ScriptResult whole = fit_on_five_samples("", "{ batch_size = math.maxinteger }");
  EXPECT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_NE(whole.output.find("epoch=1 loss="), std::string::npos) << whole.output;
  EXPECT_EQ(whole.output.find("nan"), std::string::npos) << whole.output;
}

TEST(EmptyEpoch, FitRefusesALoaderThatYieldsNothing) {
  ScriptResult r = run_lua_script(R"lua(
local nn, optim = require "trainrt.nn", require "trainrt.optim"
local model = nn.Linear(2, 2)
local nothing = setmetatable({}, { __len = function() return 0 end, __call = function() return nil end })
trainrt.fit{ model = model, optimizer = optim.SGD{ model:parameters(), lr = 0.1 }, train = nothing, epochs = 1 }
)lua");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("trainrt.fit: epoch 1 had no batches: the train loader yielded nothing"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace trainrt::test
