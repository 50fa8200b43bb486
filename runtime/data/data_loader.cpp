// DataLoader: options, epochs and the current pass; see trainrt/data/data_loader.h.
#include "trainrt/data/data_loader.h"

#include "pass.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"

namespace trainrt::data {

DataLoader::DataLoader(Dataset dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TRT_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  TRT_CHECK(options_.workers >= 0, "DataLoader: workers must be >= 0, got ", options_.workers);
  TRT_CHECK(options_.prefetch_factor >= 1, "DataLoader: prefetch_factor must be >= 1, got ", options_.prefetch_factor);
  check_normalize(options_.normalize);
  sampler_.shuffle = options_.shuffle;
  sampler_.seed = options_.seed ? *options_.seed : generator(Device::cpu()).seed;
  sampler_.drop_last = options_.drop_last;
  sampler_.num_replicas = options_.num_replicas;
  sampler_.rank = options_.rank;
  sampler_.pad = options_.pad;
  check_sampler_options(sampler_);
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::size() const {
  const int64_t m = samples_per_replica(dataset_.size(), sampler_);
  const int64_t B = options_.batch_size;
  return options_.drop_last ? m / B : (m + B - 1) / B;
}

uint64_t DataLoader::begin_epoch() {
  pass_.reset();  // joins the workers of an unfinished pass
  const uint64_t epoch = epoch_++;
  pass_ = std::make_unique<Pass>(dataset_, options_, epoch_indices(dataset_.size(), sampler_, epoch), size());
  return epoch;
}

bool DataLoader::next(std::vector<Tensor>& batch) {
  if (!pass_) return false;
  bool more;
  try {
    more = pass_->next(batch);
  } catch (...) {
    pass_.reset();
    throw;
  }
  if (!more) pass_.reset();
  return more;
}

void DataLoader::end_epoch() { pass_.reset(); }

}  // namespace trainrt::data
