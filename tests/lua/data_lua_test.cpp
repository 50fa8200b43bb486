// trainrt.data through the real trainrt binary: the missing-dataset message,
// corrupt/truncated IDX and .gz files named with the script line and a
// non-zero exit, and DataLoader shapes, determinism and coverage from Lua.
#include <gtest/gtest.h>

#include "data/fixtures.h"
#include "lua_script_runner.h"

namespace trainrt::test {
namespace {

// Fashion-MNIST file names in a temp folder, with the given bytes.
void write_fashion(const TempDir& dir, const std::string& prefix, const std::vector<uint8_t>& images,
                   const std::vector<uint8_t>& labels, bool gz = true) {
  const std::string ext = gz ? ".gz" : "";
  write_bytes(dir.file(prefix + "-images-idx3-ubyte" + ext), gz ? gzip_stored(images) : images);
  write_bytes(dir.file(prefix + "-labels-idx1-ubyte" + ext), gz ? gzip_stored(labels) : labels);
}

std::string load_script(const TempDir& dir) {
  return "local ds = trainrt.data.fashion_mnist{root = '" + dir.file("") + "', split = 'train'}\nprint(#ds)\n";
}

TEST(DataLua, MissingDatasetSaysWhatToInstall) {
  ScriptResult r = run_lua_script("local ds = trainrt.data.fashion_mnist{root = '/nonexistent/fm'}\n", "", "missing");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("missing.lua:1: Fashion-MNIST file train-images-idx3-ubyte(.gz) not found in /nonexistent/fm "
                          "(no such folder): install the Debian package dataset-fashion-mnist (apt-get install "
                          "dataset-fashion-mnist) or pass root="),
            std::string::npos)
      << r.output;
}

TEST(DataLua, GeneratedFashionFilesLoadPlainAndGz) {
  for (bool gz : {true, false}) {
    TempDir dir;
    write_fashion(dir, "train", idx_images(12, 28, 28), idx_labels(12), gz);
    ScriptResult r = run_lua_script(load_script(dir));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("12\n"), std::string::npos) << r.output;
  }
}

TEST(DataLua, CorruptGzipIsAnErrorWithTheFileAndTheLine) {
  TempDir dir;
  write_fashion(dir, "train", idx_images(12, 28, 28), idx_labels(12));
  auto gz = read_bytes(dir.file("train-images-idx3-ubyte.gz"));
  gz[100] ^= 0xFF;
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gz);
  ScriptResult r = run_lua_script(load_script(dir), "", "corrupt");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt.lua:1: " + dir.file("train-images-idx3-ubyte.gz") +
                          ": corrupt gzip data (incorrect data check)"),
            std::string::npos)
      << r.output;
}

TEST(DataLua, TruncatedGzipStreamAndTruncatedIdxContent) {
  TempDir dir;
  write_fashion(dir, "train", idx_images(12, 28, 28), idx_labels(12));
  auto gz = read_bytes(dir.file("train-images-idx3-ubyte.gz"));
  gz.resize(gz.size() / 3);
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gz);
  ScriptResult r = run_lua_script(load_script(dir));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("train-images-idx3-ubyte.gz: truncated gzip file"), std::string::npos) << r.output;

  auto labels = idx_labels(12);
  labels.resize(15);
  write_fashion(dir, "train", idx_images(12, 28, 28), labels);
  r = run_lua_script(load_script(dir));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("train-labels-idx1-ubyte.gz: truncated IDX file: expected 20 bytes (header says 12), got 15"),
            std::string::npos)
      << r.output;
}

TEST(DataLua, TruncatedPlainIdxAndCountMismatch) {
  TempDir dir;
  auto images = idx_images(12, 28, 28);
  images.resize(1000);
  write_fashion(dir, "train", images, idx_labels(12), false);
  ScriptResult r = run_lua_script(load_script(dir));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("train-images-idx3-ubyte: truncated IDX file: expected 9424 bytes (header says 12x28x28), "
                          "got 1000"),
            std::string::npos)
      << r.output;

  TempDir other;
  write_fashion(other, "train", idx_images(12, 28, 28), idx_labels(11));
  r = run_lua_script(load_script(other));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("image/label count mismatch: 12 images in"), std::string::npos) << r.output;
}

TEST(DataLua, LoaderBatchesAreShapedAndDeterministic) {
  TempDir dir;
  write_fashion(dir, "t10k", idx_images(50, 28, 28), idx_labels(50));
  std::string ids = "id,y\n";
  for (int i = 0; i < 30; ++i) ids += std::to_string(i) + "," + std::to_string(i % 4) + "\n";
  write_text(dir.file("ids.csv"), ids);
  expect_script_passes(R"lua(
local data = require "trainrt.data"
local dir = ...
local ds = data.fashion_mnist{root = dir, split = "test"}
local x, y = ds:get(2)
check(shape_str(x) == "(1, 28, 28)" and x:dtype() == "float32" and y:dtype() == "int64" and y:item() == 1, "get")
local loader = data.DataLoader(ds, {batch_size = 16, normalize = {mean = 0.5, std = 0.5}})
check(#loader == 4, "#loader")
local shapes = {}
for x, y in loader do shapes[#shapes + 1] = shape_str(x) .. shape_str(y) .. x:dtype() .. y:dtype() end
check(shapes[1] == "(16, 1, 28, 28)(16)float32int64" and shapes[4] == "(2, 1, 28, 28)(2)float32int64", "shapes")
check(#data.DataLoader(ds, {batch_size = 16, drop_last = true}) == 3, "drop_last")

local ids = data.dataset("csv", {path = dir .. "/ids.csv", label = "y"})
local function epoch(loader)
  local out = {}
  for x, y in loader do
    for _, v in ipairs(x:flatten():tolist()) do out[#out + 1] = math.tointeger(v) end
  end
  return table.concat(out, ",")
end
local a = data.DataLoader(ids, {batch_size = 4, shuffle = true, seed = 5})
local b = data.DataLoader(ids, {batch_size = 4, shuffle = true, seed = 5, workers = 2})
local c = data.DataLoader(ids, {batch_size = 4, shuffle = true, seed = 6})
local a0, b0, c0 = epoch(a), epoch(b), epoch(c)
check(a0 == b0, "same seed same order, workers=2 too")
check(a0 ~= c0, "another seed another order")
local a1 = epoch(a)
check(a1 ~= a0, "next epoch reshuffles")
a:set_epoch(0)
check(epoch(a) == a0, "set_epoch reproduces")
local seen = {}
for id in a1:gmatch("%d+") do seen[#seen + 1] = tonumber(id) end
table.sort(seen)
check(#seen == 30 and seen[1] == 0 and seen[30] == 29 and table.concat(seen, ","):find("14,15,16", 1, true), "exactly once")
for x in a do break end
local after_break = epoch(a)
check(select(2, after_break:gsub(",", "")) == 29, "break starts a new epoch next time")
local r0 = data.DataLoader(ids, {batch_size = 4, num_replicas = 2, rank = 0})
local r1 = data.DataLoader(ids, {batch_size = 4, num_replicas = 2, rank = 1})
check(#r0 == 4 and epoch(r0):sub(1, 5) == "0,2,4" and epoch(r1):sub(1, 5) == "1,3,5", "sharded")
local ok, err = pcall(data.DataLoader, ids, {batchsize = 4})
check(not ok and err:find("unknown option 'batchsize'", 1, true), "unknown option")
ok, err = pcall(data.dataset, "parquet", {path = "x"})
check(not ok and err:find("no data loader 'parquet': is the loader-parquet plugin installed?", 1, true), "unknown loader")
)lua",
                       {"get", "#loader", "shapes", "drop_last", "same seed same order, workers=2 too",
                        "another seed another order", "next epoch reshuffles", "set_epoch reproduces", "exactly once",
                        "break starts a new epoch next time", "sharded", "unknown option", "unknown loader"},
                       "'" + dir.file("") + "'");
}

// A dataset created after a table with __gc is finalized first (reverse order
// of registration); the table's finalizer must get a clear error from it, not
// read a destroyed C++ object.
TEST(DataLua, DatasetUsedByALaterFinalizerIsAnErrorNotAUseAfterFree) {
  TempDir dir;
  write_text(dir.file("ids.csv"), "id,y\n1,0\n2,1\n");
  ScriptResult r = run_lua_script(R"lua(
local holder = setmetatable({}, {__gc = function(self)
  local ok, err = pcall(function() return #self.ds end)
  print("finalizer ok=" .. tostring(ok) .. " " .. tostring(err))
end})
holder.ds = trainrt.data.dataset("csv", {path = (...) .. "/ids.csv", label = "y"})
holder = nil
collectgarbage()
collectgarbage()
print("survived")
)lua",
                                  "'" + dir.file("") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("finalizer ok=false"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dataset was already collected"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("survived\n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
