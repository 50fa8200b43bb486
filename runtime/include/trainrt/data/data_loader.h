// DataLoader: epochs of batches over a Dataset — seeded epoch-aware shuffling
// and distributed sharding (sampler.h), batch assembly (collate.h), and
// prefetch on `workers` threads into a bounded queue (workers = 0: batches are
// built in the caller's thread on next()). A worker's exception is rethrown by
// next() in the caller; destroying the loader or starting a new epoch stops
// the workers cleanly, mid-epoch included. seek() starts the next pass
// mid-epoch (resuming from a checkpoint). A loader whose epochs can have no
// batch is refused (an empty dataset) or warned about at construction (drop_last
// dropping the only batch), and beginning such an epoch is an error.
// Deliberately one pass at a time: starting an epoch abandons the previous one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
  // The shuffle seed, e.g. the original run's when resuming (takes effect at the next pass).
  void set_seed(uint64_t seed) { sampler_.seed = seed; }

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

  // Where the loader stands: during a pass, its epoch and the batches next()
  // has returned; between passes, what the next pass will use (epoch, first batch).
  struct Position {
    uint64_t epoch = 0;
    int64_t batch = 0;
  };
  Position position() const;
  // The next begin_epoch() runs `epoch` from batch `batch` (0-based, at most
  // size(): size() leaves nothing of that epoch). Stops a pass in flight.
  void seek(uint64_t epoch, int64_t batch);

  // What a checkpoint keeps of a loader to resume its order exactly.
  struct State {
    uint64_t epoch = 0;
    int64_t batch = 0;         // batches of `epoch` already consumed on each rank
    int64_t batch_size = 1;    // per rank
    int64_t num_replicas = 1;
    uint64_t seed = 0;
    int64_t samples = 0;       // dataset size
  };
  State state() const;
  // Continues where `saved` stopped: the same batch when batch_size * num_replicas
  // is unchanged, else the first batch after the samples every rank had consumed
  // (another strategy or world size). Restores the shuffle seed. Returns a
  // warning ("" when none) when the order cannot be the original one.
  std::string load_state(const State& saved);

  class Pass;  // one epoch in flight (prefetch.cpp)

 private:
  Dataset dataset_;
  DataLoaderOptions options_;
  SamplerOptions sampler_;
  uint64_t epoch_ = 0;
  int64_t start_batch_ = 0;  // where the next pass starts (seek), then 0 again
  std::unique_ptr<Pass> pass_;

  // Why an epoch has no batch on any rank, or "" when it has some.
  std::string empty_epoch_reason() const;
};

}  // namespace trainrt::data
