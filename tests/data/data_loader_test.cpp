// DataLoader over the real loader plugins: batch shapes/dtypes/scaling,
// drop_last, seeded epoch-aware shuffling, exactly-once coverage, workers
// giving the same batches as the caller thread, distributed shards, worker
// errors surfacing in the caller, and clean shutdown mid-epoch.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <thread>

#include "fixtures.h"
#include "test_util.h"
#include "trainrt/data/data_loader.h"
#include "trainrt/ops/creation.h"

namespace trainrt::test {
namespace {

using data::DataLoader;
using data::DataLoaderOptions;
using data::Dataset;

// A CSV dataset whose one feature is the sample's own index: easy to trace.
Dataset id_dataset(const TempDir& dir, int n) {
  std::string text = "id,y\n";
  for (int i = 0; i < n; ++i) text += std::to_string(i) + "," + std::to_string(i % 3) + "\n";
  write_text(dir.file("ids.csv"), text);
  return Dataset::open("csv", "path=" + dir.file("ids.csv") + ";label=y");
}

Dataset image_dataset(const TempDir& dir, uint32_t n, uint32_t rows, uint32_t cols) {
  write_bytes(dir.file("img.gz"), gzip_stored(idx_images(n, rows, cols)));
  write_bytes(dir.file("lbl.gz"), gzip_stored(idx_labels(n)));
  return Dataset::open("idx", "images=" + dir.file("img.gz") + ";labels=" + dir.file("lbl.gz"));
}

DataLoaderOptions opts(int64_t batch, bool shuffle = false, uint64_t seed = 0) {
  DataLoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = seed;
  return o;
}

// The sample ids of one pass, in order (batches concatenated).
std::vector<int64_t> epoch_ids(DataLoader& loader) {
  std::vector<int64_t> ids;
  loader.begin_epoch();
  std::vector<Tensor> batch;
  while (loader.next(batch))
    for (double v : batch[0].to_vector()) ids.push_back(static_cast<int64_t>(v));
  return ids;
}

std::vector<std::vector<Tensor>> all_batches(DataLoader& loader) {
  std::vector<std::vector<Tensor>> out;
  loader.begin_epoch();
  std::vector<Tensor> batch;
  while (loader.next(batch)) out.push_back(batch);
  return out;
}

TEST(DataLoader, ImageBatchesAreScaledFloatWithAChannelDim) {
  TempDir dir;
  DataLoader loader(image_dataset(dir, 10, 5, 6), opts(4));
  EXPECT_EQ(loader.size(), 3);
  auto batches = all_batches(loader);
  ASSERT_EQ(batches.size(), 3u);
  const Tensor& x = batches[1][0];  // (4, 1, 5, 6), samples 4..7
  const Tensor& y = batches[1][1];  // (4)
  EXPECT_EQ(x.sizes(), (Shape{4, 1, 5, 6}));
  EXPECT_EQ(x.dtype(), DType::Float32);
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_EQ(y.sizes(), Shape{4});
  EXPECT_EQ(y.dtype(), DType::Int64);
  std::vector<double> xv = x.to_vector();
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t c = 0; c < 6; ++c)
        ASSERT_FLOAT_EQ(xv[(b * 5 + r) * 6 + c], static_cast<float>(pixel(4 + b, r, c)) / 255.0f);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{4, 5, 6, 7}));
  EXPECT_EQ(batches[2][0].sizes(), (Shape{2, 1, 5, 6}));  // the last, incomplete batch
  auto [lo, hi] = std::minmax_element(xv.begin(), xv.end());
  EXPECT_GE(*lo, 0.0);
  EXPECT_LE(*hi, 1.0);
}

TEST(DataLoader, DropLastDropsTheIncompleteBatch) {
  TempDir dir;
  DataLoaderOptions o = opts(4);
  o.drop_last = true;
  DataLoader loader(image_dataset(dir, 10, 2, 2), o);
  EXPECT_EQ(loader.size(), 2);
  auto batches = all_batches(loader);
  ASSERT_EQ(batches.size(), 2u);
  for (auto& b : batches) EXPECT_EQ(b[0].size(0), 4);
}

TEST(DataLoader, NormalizeAppliesMeanAndStd) {
  TempDir dir;
  DataLoaderOptions o = opts(3);
  o.normalize = {{0.2860}, {0.3530}};
  DataLoader loader(image_dataset(dir, 3, 2, 2), o);
  auto batches = all_batches(loader);
  std::vector<double> xv = batches[0][0].to_vector();
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t p = 0; p < 4; ++p)
      ASSERT_NEAR(xv[b * 4 + p], (pixel(b, p / 2, p % 2) / 255.0 - 0.2860) / 0.3530, 1e-5);
  EXPECT_EQ(batches[0][1].dtype(), DType::Int64);  // labels untouched
}

TEST(DataLoader, ShuffleIsDeterministicPerSeedAndChangesPerEpoch) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 50);
  DataLoader a(ds, opts(8, true, 3)), b(ds, opts(8, true, 3)), other(ds, opts(8, true, 4));
  std::vector<int64_t> a0 = epoch_ids(a), b0 = epoch_ids(b), o0 = epoch_ids(other);
  std::vector<int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(a0, b0) << "same seed, same order";
  EXPECT_NE(a0, identity) << "shuffle=true left the order alone";
  EXPECT_NE(a0, o0) << "another seed gave the same order";
  std::vector<int64_t> a1 = epoch_ids(a);
  EXPECT_NE(a0, a1) << "the second epoch repeated the first";
  EXPECT_EQ(a.epoch(), 2u);
  a.set_epoch(1);
  EXPECT_EQ(epoch_ids(a), a1) << "set_epoch(1) did not reproduce epoch 1";
  b.set_epoch(1);
  EXPECT_EQ(epoch_ids(b), a1);
  DataLoader plain(ds, opts(8));
  EXPECT_EQ(epoch_ids(plain), identity);
}

TEST(DataLoader, DefaultSeedComesFromManualSeed) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 40);
  DataLoaderOptions o = opts(8, true);
  o.seed.reset();
  manual_seed(11);
  DataLoader a(ds, o);
  manual_seed(11);
  DataLoader b(ds, o);
  manual_seed(12);
  DataLoader c(ds, o);
  EXPECT_EQ(a.seed(), 11u);
  EXPECT_EQ(epoch_ids(a), epoch_ids(b));
  EXPECT_NE(epoch_ids(a), epoch_ids(c));
}

TEST(DataLoader, EverySampleExactlyOncePerEpoch) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 103);
  for (int64_t workers : {0, 3}) {
    DataLoaderOptions o = opts(10, true, 9);
    o.workers = workers;
    DataLoader loader(ds, o);
    EXPECT_EQ(loader.size(), 11);
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::vector<int64_t> ids = epoch_ids(loader);
      std::sort(ids.begin(), ids.end());
      std::vector<int64_t> expected(103);
      std::iota(expected.begin(), expected.end(), 0);
      EXPECT_EQ(ids, expected) << "workers=" << workers << " epoch " << epoch;
    }
  }
}

TEST(DataLoader, WorkersGiveTheSameBatchesAsTheCallerThread) {
  TempDir dir;
  Dataset ds = image_dataset(dir, 77, 6, 5);
  DataLoaderOptions o = opts(8, true, 5);
  o.normalize = {{0.5}, {0.25}};
  DataLoader serial(ds, o);
  o.workers = 2;
  DataLoader parallel(ds, o);
  for (int epoch = 0; epoch < 2; ++epoch) {
    auto s = all_batches(serial), p = all_batches(parallel);
    ASSERT_EQ(s.size(), p.size());
    ASSERT_EQ(s.size(), 10u);
    for (size_t b = 0; b < s.size(); ++b)
      for (size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(s[b][k].sizes(), p[b][k].sizes());
        ASSERT_EQ(s[b][k].to_vector(), p[b][k].to_vector()) << "epoch " << epoch << " batch " << b << " field " << k;
      }
  }
}

// Shards of every rank for one epoch.
std::vector<std::vector<int64_t>> shards(const Dataset& ds, int64_t replicas, bool shuffle, bool drop_last,
                                         uint64_t epoch) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t rank = 0; rank < replicas; ++rank) {
    DataLoaderOptions o = opts(2, shuffle, 21);
    o.num_replicas = replicas;
    o.rank = rank;
    o.drop_last = drop_last;
    DataLoader loader(ds, o);
    loader.set_epoch(epoch);
    out.push_back(epoch_ids(loader));
  }
  return out;
}

TEST(DataLoader, DistributedShardsAreDisjointAndCoverTheSet) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 100);
  for (uint64_t epoch : {0u, 1u}) {
    auto parts = shards(ds, 4, true, false, epoch);
    std::set<int64_t> seen;
    for (auto& part : parts) {
      EXPECT_EQ(part.size(), 25u);
      for (int64_t i : part) EXPECT_TRUE(seen.insert(i).second) << "sample " << i << " on two ranks";
    }
    EXPECT_EQ(seen.size(), 100u);
  }
  EXPECT_NE(shards(ds, 4, true, false, 0)[0], shards(ds, 4, true, false, 1)[0]) << "set_epoch changed nothing";
}

TEST(DataLoader, DistributedPadsOrTruncatesUnevenSets) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 10);
  auto padded = shards(ds, 4, false, false, 0);  // like DistributedSampler: 12 = 10 + 2 wrapped
  EXPECT_EQ(padded, (std::vector<std::vector<int64_t>>{{0, 4, 8}, {1, 5, 9}, {2, 6, 0}, {3, 7, 1}}));
  std::set<int64_t> all;
  for (auto& p : shards(ds, 4, true, false, 0)) all.insert(p.begin(), p.end());
  EXPECT_EQ(all.size(), 10u);
  auto truncated = shards(ds, 4, true, true, 0);  // drop_last: 8 samples, no repeats
  std::set<int64_t> seen;
  for (auto& part : truncated) {
    EXPECT_EQ(part.size(), 2u);
    for (int64_t i : part) EXPECT_TRUE(seen.insert(i).second);
  }
}

TEST(DataLoader, ErrorInAWorkerSurfacesInTheCaller) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 40);
  for (int64_t workers : {0, 2}) {
    DataLoaderOptions o = opts(4);
    o.workers = workers;
    o.transform = [](std::vector<Tensor>& batch) {
      if (batch[0].to_vector()[0] == 12) throw Error("augmentation failed on batch starting at 12");
    };
    DataLoader loader(ds, o);
    loader.begin_epoch();
    std::vector<Tensor> batch;
    for (int b = 0; b < 3; ++b) ASSERT_TRUE(loader.next(batch)) << "batch " << b;
    EXPECT_ERROR_CONTAINS(loader.next(batch), "augmentation failed on batch starting at 12");
    EXPECT_FALSE(loader.in_epoch());
    EXPECT_FALSE(loader.next(batch)) << "the failed pass went on";
    loader.begin_epoch();  // a new pass fails again at the same batch, and does not hang
    for (int b = 0; b < 3; ++b) ASSERT_TRUE(loader.next(batch));
    EXPECT_THROW(loader.next(batch), Error);
  }
}

TEST(DataLoader, PrefetchIsBoundedAndShutdownMidEpochIsClean) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 400);
  auto built = std::make_shared<std::atomic<int>>(0);
  DataLoaderOptions o = opts(2);
  o.workers = 3;
  o.prefetch_factor = 2;
  o.transform = [built](std::vector<Tensor>&) { ++*built; };
  {
    DataLoader loader(ds, o);
    loader.begin_epoch();
    // Wait (up to 10 s on a loaded machine) for the workers to start, then give
    // them time to run ahead as far as they are allowed to.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (built->load() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GT(built->load(), 0) << "no worker built a batch within 10 s";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_LE(built->load(), 6) << "workers ran more than workers * prefetch_factor batches ahead";
    std::vector<Tensor> batch;
    ASSERT_TRUE(loader.next(batch));
    loader.begin_epoch();  // abandons the running pass
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch[0].to_vector(), (std::vector<double>{0, 1}));
  }  // destroyed mid-epoch: joins its workers
  SUCCEED();
}

TEST(DataLoader, BadOptionsAreErrors) {
  TempDir dir;
  Dataset ds = id_dataset(dir, 10);
  DataLoaderOptions o = opts(0);
  EXPECT_ERROR_CONTAINS(DataLoader(ds, o), "batch_size must be >= 1, got 0");
  o = opts(2);
  o.num_replicas = 2;
  o.rank = 2;
  EXPECT_ERROR_CONTAINS(DataLoader(ds, o), "rank 2 out of range [0, 2)");
  o = opts(2);
  o.normalize = {{0.5}, {0}};
  EXPECT_ERROR_CONTAINS(DataLoader(ds, o), "normalize: std must be non-zero");
  o.normalize = {{0.5, 0.1}, {0.2}};
  EXPECT_ERROR_CONTAINS(DataLoader(ds, o), "mean and std need the same number of values");
}

}  // namespace
}  // namespace trainrt::test
