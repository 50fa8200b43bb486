// Which samples one rank visits in one epoch, in which order: the seeded,
// epoch-aware shuffle and the distributed sharding of torch's
// DistributedSampler (same permutation on every rank, then every
// num_replicas-th index starting at rank; padded by wrapping around, or
// truncated with drop_last, so every rank gets the same count). With
// pad = false (evaluation) nothing is repeated: every sample goes to exactly
// one rank, and shards differ in length by at most one.
// Deliberately pure (no tensors, no threads): easy to test and to reproduce.
#pragma once
#include <cstdint>
#include <vector>

namespace trainrt::data {

struct SamplerOptions {
  bool shuffle = false;
  uint64_t seed = 0;  // permutation of epoch e is drawn from (seed, e)
  bool drop_last = false;  // with num_replicas > 1: truncate instead of padding
  bool pad = true;         // with num_replicas > 1 and !drop_last: wrap around to equal shards
  int64_t num_replicas = 1;
  int64_t rank = 0;
};

// Throws Error on rank outside [0, num_replicas) or num_replicas < 1.
void check_sampler_options(const SamplerOptions& options);
// Number of indices each rank gets per epoch for a dataset of n samples.
int64_t samples_per_replica(int64_t n, const SamplerOptions& options);
// The 0-based sample indices this rank visits in `epoch`, in order.
std::vector<int64_t> epoch_indices(int64_t n, const SamplerOptions& options, uint64_t epoch);
// A permutation of [0, n) that depends only on (seed, epoch), the same on every
// platform (own generator and Fisher-Yates, not std::shuffle).
std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t epoch);

}  // namespace trainrt::data
