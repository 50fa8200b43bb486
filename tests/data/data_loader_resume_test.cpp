// DataLoader for checkpoints: position() during and between passes, seek()
// starting mid-epoch (with and without workers), load_state() converting a
// position saved under another batch size or world size, and epochs with no
// batch: an error naming dataset size, batch size and drop_last, not an epoch
// that trains on nothing.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "test_util.h"
#include "trainrt/data/data_loader.h"

namespace trainrt::test {
namespace {

using data::DataLoader;
using data::DataLoaderOptions;
using data::Dataset;

Dataset ids(const TempDir& dir, int n) {
  std::string text = "id,y\n";
  for (int i = 0; i < n; ++i) text += std::to_string(i) + "," + std::to_string(i % 3) + "\n";
  write_text(dir.file("ids.csv"), text);
  return Dataset::open("csv", "path=" + dir.file("ids.csv") + ";label=y");
}

DataLoaderOptions shuffled(int64_t batch, int64_t workers = 0) {
  DataLoaderOptions o;
  o.batch_size = batch;
  o.shuffle = true;
  o.seed = 9;
  o.workers = workers;
  return o;
}

// Sample ids of the rest of the current (or a new) pass.
std::vector<int64_t> rest_of_pass(DataLoader& loader) {
  if (!loader.in_epoch()) loader.begin_epoch();
  std::vector<int64_t> out;
  std::vector<Tensor> batch;
  while (loader.next(batch))
    for (double v : batch[0].to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}

TEST(DataLoaderResume, PositionCountsBatchesOfThePassInFlight) {
  TempDir dir;
  DataLoader loader(ids(dir, 20), shuffled(4));
  EXPECT_EQ(loader.position().epoch, 0u);
  EXPECT_EQ(loader.position().batch, 0);
  loader.begin_epoch();
  std::vector<Tensor> batch;
  loader.next(batch);
  loader.next(batch);
  EXPECT_EQ(loader.position().epoch, 0u);
  EXPECT_EQ(loader.position().batch, 2);
  while (loader.next(batch)) {
  }
  EXPECT_EQ(loader.position().epoch, 1u);  // between passes: the next one
  EXPECT_EQ(loader.position().batch, 0);
}

TEST(DataLoaderResume, SeekContinuesMidEpochWithTheSameOrder) {
  TempDir dir;
  Dataset ds = ids(dir, 30);
  for (int64_t workers : {0, 2}) {
    SCOPED_TRACE(workers);
    DataLoader straight(ds, shuffled(4, workers));
    rest_of_pass(straight);
    std::vector<int64_t> epoch1 = rest_of_pass(straight);  // 8 batches: 7 of 4, then 2
    DataLoader resumed(ds, shuffled(4, workers));
    resumed.seek(1, 3);
    EXPECT_EQ(resumed.position().batch, 3);
    std::vector<int64_t> rest = rest_of_pass(resumed);
    EXPECT_EQ(rest, std::vector<int64_t>(epoch1.begin() + 12, epoch1.end()));
    EXPECT_EQ(resumed.position().epoch, 2u);
    resumed.seek(0, resumed.size());  // at the very end: nothing left of that epoch
    EXPECT_TRUE(rest_of_pass(resumed).empty());
  }
  DataLoader loader(ds, shuffled(4));
  EXPECT_ERROR_CONTAINS(loader.seek(0, 9), "cannot start epoch 0 at batch 9: an epoch has 8 batches");
}

TEST(DataLoaderResume, LoadStateRestoresSeedAndConvertsBetweenWorldSizes) {
  TempDir dir;
  Dataset ds = ids(dir, 64);
  // Saved by one process at batch 8 after 3 batches of epoch 2 (24 samples).
  DataLoader::State saved{2, 3, 8, 1, 77, 64};
  DataLoaderOptions one = shuffled(8);
  one.seed = 1;  // the saved seed (77) wins
  DataLoader same(ds, one);
  EXPECT_EQ(same.load_state(saved), "");
  EXPECT_EQ(same.seed(), 77u);
  EXPECT_EQ(same.position().epoch, 2u);
  EXPECT_EQ(same.position().batch, 3);
  // Rank 1 of 2 at batch 4: 24 samples over all ranks = 3 batches of 4 on each.
  DataLoaderOptions two = shuffled(4);
  two.num_replicas = 2;
  two.rank = 1;
  DataLoader shard(ds, two);
  EXPECT_EQ(shard.load_state(saved), "");
  EXPECT_EQ(shard.position().batch, 3);
  // Batches of 16 over 1 rank: 24 samples is one and a half batches -> batch 2, with a warning.
  DataLoader big(ds, shuffled(16));
  EXPECT_NE(big.load_state(saved).find("not a whole number of batches"), std::string::npos);
  EXPECT_EQ(big.position().batch, 2);
  DataLoader other(ds.subset(50), shuffled(8));
  EXPECT_NE(other.load_state(saved).find("had 64 samples, this one has 50"), std::string::npos);
}

TEST(DataLoaderEmptyEpoch, AnEmptyDatasetIsRefused) {
  TempDir dir;
  Dataset ds = ids(dir, 5).subset(0);
  DataLoaderOptions o;
  o.batch_size = 4;
  EXPECT_ERROR_CONTAINS(DataLoader(ds, o), "DataLoader: the csv dataset has 0 samples, so every epoch would have no "
                                           "batches (batch_size=4, drop_last=false)");
}

TEST(DataLoaderEmptyEpoch, DropLastLeavingNoBatchFailsWhenTheEpochBegins) {
  TempDir dir;
  DataLoaderOptions o;
  o.batch_size = 8;
  o.drop_last = true;
  DataLoader loader(ids(dir, 5), o);  // warns here, names the reason
  EXPECT_EQ(loader.size(), 0);
  EXPECT_ERROR_CONTAINS(loader.begin_epoch(),
                        "DataLoader: an epoch has no batches: the dataset has 5 samples, batch_size=8 and drop_last=true "
                        "drops the only, incomplete batch; use batch_size <= 5 or drop_last=false");
  o.batch_size = INT64_MAX;  // 2^63 - 1
  DataLoader absurd(ids(dir, 5), o);
  EXPECT_ERROR_CONTAINS(absurd.begin_epoch(), "batch_size=9223372036854775807 and drop_last=true");
}

TEST(DataLoaderEmptyEpoch, HugeBatchSizeWithoutDropLastIsOneBatchNotZero) {
  TempDir dir;
  DataLoaderOptions o;
  o.batch_size = INT64_MAX;  // (5 + B - 1) / B overflowed to 0 batches before
  DataLoader loader(ids(dir, 5), o);
  EXPECT_EQ(loader.size(), 1);
  std::vector<Tensor> batch;
  loader.begin_epoch();
  ASSERT_TRUE(loader.next(batch));
  EXPECT_EQ(batch[0].size(0), 5);
}

TEST(DataLoaderEmptyEpoch, AnEmptyEvaluationShardOnOneRankIsFine) {
  TempDir dir;
  DataLoaderOptions o;
  o.batch_size = 4;
  o.num_replicas = 3;
  o.rank = 2;
  o.pad = false;  // 2 samples over 3 ranks: rank 2 gets none, the others do
  DataLoader loader(ids(dir, 2), o);
  EXPECT_EQ(loader.size(), 0);
  loader.begin_epoch();
  std::vector<Tensor> batch;
  EXPECT_FALSE(loader.next(batch));
}

}  // namespace
}  // namespace trainrt::test
