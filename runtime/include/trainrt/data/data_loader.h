// DataLoader: epochs of batches over a Dataset — seeded epoch-aware shuffling
// and distributed sharding (sampler.h), batch assembly (collate.h), and
// prefetch on `workers` threads into a bounded queue (workers = 0: batches are
// built in the caller's thread on next()). A worker's exception is rethrown by
// next() in the caller; destroying the loader or starting a new epoch stops
// the workers cleanly, mid-epoch included.
// Deliberately one pass at a time: starting an epoch abandons the previous one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "trainrt/data/collate.h"
#include "trainrt/data/dataset.h"
#include "trainrt/data/sampler.h"

namespace trainrt::data {

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  std::optional<uint64_t> seed;  // unset: the CPU generator's seed (manual_seed / --seed)
  bool drop_last = false;        // drop the last incomplete batch (and truncate shards)
  int64_t workers = 0;
  int64_t prefetch_factor = 2;   // batches queued per worker
  int64_t num_replicas = 1;
  int64_t rank = 0;
  bool pad = true;  // sharded without drop_last: repeat samples so every rank gets as many (see sampler.h)
  Normalize normalize;
  // (optional) runs on each assembled batch, in the worker thread that built it.
  std::function<void(std::vector<Tensor>& batch)> transform;
};

class DataLoader {
 public:
  DataLoader(Dataset dataset, DataLoaderOptions options);  // throws Error on bad options
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t size() const;  // batches per epoch for this rank
  const Dataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  uint64_t seed() const { return sampler_.seed; }

  // The epoch the next pass uses; each begin_epoch() uses it and then
  // advances it by one (so passes differ even without set_epoch).
  void set_epoch(uint64_t epoch) { epoch_ = epoch; }
  uint64_t epoch() const { return epoch_; }

  // Starts a pass (stopping any unfinished one) and returns its epoch number.
  uint64_t begin_epoch();
  // The next batch of the current pass (one tensor per field) into `batch`;
  // false when the pass is over (or none was begun). Rethrows worker errors.
  bool next(std::vector<Tensor>& batch);
  bool in_epoch() const { return pass_ != nullptr; }
  void end_epoch();  // stops the current pass, joining its workers

  class Pass;  // one epoch in flight (prefetch.cpp)

 private:
  Dataset dataset_;
  DataLoaderOptions options_;
  SamplerOptions sampler_;
  uint64_t epoch_ = 0;
  std::unique_ptr<Pass> pass_;
};

}  // namespace trainrt::data
