// DataLoader::Pass: one epoch in flight. With workers = 0 it builds each batch
// in the caller's thread on next(); with N workers, N threads claim batch
// numbers in order and build them ahead of the consumer, at most
// workers * prefetch_factor batches ahead (bounded memory). Batches come out in
// order; a worker's exception is stored in its batch's slot and rethrown by
// next() when the consumer reaches it. Destruction stops claiming and joins.
// Deliberately private to runtime/data: users see only DataLoader.
#pragma once
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "trainrt/data/data_loader.h"

namespace trainrt::data {

class DataLoader::Pass {
 public:
  // indices: this rank's sample order for the epoch; the pass yields batches
  // first_batch .. num_batches - 1 (first_batch > 0 when resuming mid-epoch).
  Pass(const Dataset& dataset, const DataLoaderOptions& options, std::vector<int64_t> indices, int64_t num_batches,
       int64_t first_batch = 0);
  ~Pass();
  Pass(const Pass&) = delete;
  Pass& operator=(const Pass&) = delete;

  bool next(std::vector<Tensor>& batch);  // false when the epoch is over
  int64_t delivered() const { return next_; }  // index of the batch next() returns next

 private:
  struct Slot {
    std::vector<Tensor> batch;
    std::exception_ptr error;
  };
  std::vector<Tensor> build(int64_t b) const;  // collate + transform of batch b
  void work();                                 // a worker thread's loop
  void stop_workers();

  const Dataset dataset_;
  const DataLoaderOptions& options_;  // owned by the DataLoader, which outlives its Pass
  const std::vector<int64_t> indices_;
  const int64_t num_batches_;
  int64_t next_ = 0;  // the batch next() returns next

  std::mutex mutex_;
  std::condition_variable produced_, space_;
  std::map<int64_t, Slot> ready_;  // built batches not yet consumed
  int64_t claimed_ = 0;            // batches handed to workers so far
  int64_t capacity_ = 0;           // max batches ahead of next_
  bool stop_ = false;              // no more claiming (shutdown or after an error)
  std::vector<std::thread> threads_;
};

}  // namespace trainrt::data
