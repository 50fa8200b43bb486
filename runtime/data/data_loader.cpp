// DataLoader: options, epochs and the current pass; see trainrt/data/data_loader.h.
#include "trainrt/data/data_loader.h"

#include <algorithm>

#include "pass.h"
#include "trainrt/error.h"
#include "trainrt/log.h"
#include "trainrt/ops/creation.h"

namespace trainrt::data {
namespace {

// Batches of `samples` at batch size B; written without (samples + B - 1),
// which overflows for a batch size near 2^63.
int64_t batches_of(int64_t samples, int64_t B, bool drop_last) {
  return samples / B + (!drop_last && samples % B != 0 ? 1 : 0);
}

}  // namespace

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
  TRT_CHECK(dataset_.size() > 0, "DataLoader: the ", dataset_.loader_name(),
            " dataset has 0 samples, so every epoch would have no batches (batch_size=", options_.batch_size,
            ", drop_last=", options_.drop_last ? "true" : "false", "); check its files, filter or subset");
  std::string empty = empty_epoch_reason();
  if (!empty.empty()) log(LogLevel::Warn, empty);
}

std::string DataLoader::empty_epoch_reason() const {
  // Rank 0 gets the most samples (shards differ only without padding, by one).
  SamplerOptions first = sampler_;
  first.rank = 0;
  const int64_t n = dataset_.size(), most = samples_per_replica(n, first), B = options_.batch_size;
  if (batches_of(most, B, options_.drop_last) > 0) return "";
  std::string samples = std::to_string(n) + " samples";
  if (options_.num_replicas > 1)
    samples += " (" + std::to_string(most) + " per rank over " + std::to_string(options_.num_replicas) + " ranks)";
  // A non-empty dataset (the constructor refuses an empty one) gives no batch only through drop_last.
  if (most == 0)
    return "DataLoader: an epoch has no batches: the dataset has " + samples + " and drop_last=true leaves each of the " +
           std::to_string(options_.num_replicas) + " ranks none; use drop_last=false or fewer ranks";
  return "DataLoader: an epoch has no batches: the dataset has " + samples + ", batch_size=" + std::to_string(B) +
         " and drop_last=true drops the only, incomplete batch; use batch_size <= " + std::to_string(most) +
         " or drop_last=false";
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::size() const {
  return batches_of(samples_per_replica(dataset_.size(), sampler_), options_.batch_size, options_.drop_last);
}

uint64_t DataLoader::begin_epoch() {
  pass_.reset();  // joins the workers of an unfinished pass
  if (size() == 0) {
    std::string reason = empty_epoch_reason();
    if (!reason.empty()) fail(reason);  // else only this rank's evaluation shard is empty
  }
  const uint64_t epoch = epoch_++;
  const int64_t first = start_batch_;
  start_batch_ = 0;
  pass_ = std::make_unique<Pass>(dataset_, options_, epoch_indices(dataset_.size(), sampler_, epoch), size(), first);
  return epoch;
}

DataLoader::Position DataLoader::position() const {
  if (pass_) return {epoch_ - 1, pass_->delivered()};
  return {epoch_, start_batch_};
}

void DataLoader::seek(uint64_t epoch, int64_t batch) {
  TRT_CHECK(batch >= 0 && batch <= size(), "DataLoader: cannot start epoch ", epoch, " at batch ", batch, ": an epoch has ",
            size(), " batches");
  pass_.reset();
  epoch_ = epoch;
  start_batch_ = batch;
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

DataLoader::State DataLoader::state() const {
  Position p = position();
  return {p.epoch, p.batch, options_.batch_size, options_.num_replicas, sampler_.seed, dataset_.size()};
}

std::string DataLoader::load_state(const State& saved) {
  TRT_CHECK(saved.batch >= 0 && saved.batch_size >= 1 && saved.num_replicas >= 1, "DataLoader: bad saved position (batch ",
            saved.batch, ", batch_size ", saved.batch_size, ", num_replicas ", saved.num_replicas, ")");
  std::string warning;
  if (saved.samples != dataset_.size())
    warning = "the checkpoint's loader had " + std::to_string(saved.samples) + " samples, this one has " +
              std::to_string(dataset_.size()) + ": the data order differs from the original run";
  // Samples consumed over all ranks, then this loader's batches that cover them.
  const __int128 consumed = static_cast<__int128>(saved.batch) * saved.batch_size * saved.num_replicas;
  const __int128 per_batch = static_cast<__int128>(options_.batch_size) * options_.num_replicas;
  int64_t batch = static_cast<int64_t>(std::min<__int128>((consumed + per_batch - 1) / per_batch, size()));
  if (consumed % per_batch != 0 && warning.empty())
    warning = "the checkpoint stopped after " + std::to_string(static_cast<int64_t>(consumed)) +
              " samples of its epoch, which is not a whole number of batches of " +
              std::to_string(static_cast<int64_t>(per_batch)) + " here: resuming at the next whole batch";
  sampler_.seed = saved.seed;
  seek(saved.epoch, batch);
  return warning;
}

}  // namespace trainrt::data
