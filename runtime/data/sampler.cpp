// Seeded, epoch-aware, sharded sample order; see trainrt/data/sampler.h.
#include "trainrt/data/sampler.h"

#include "trainrt/error.h"

namespace trainrt::data {

namespace {

// splitmix64: a tiny, fully specified generator (same numbers everywhere).
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) without modulo bias (rejection of the short tail).
  uint64_t below(uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = next(); while (r >= limit);
    return r % bound;
  }
};

}  // namespace

void check_sampler_options(const SamplerOptions& o) {
  TRT_CHECK(o.num_replicas >= 1, "num_replicas must be >= 1, got ", o.num_replicas);
  TRT_CHECK(o.rank >= 0 && o.rank < o.num_replicas, "rank ", o.rank, " out of range [0, ", o.num_replicas,
            ") for num_replicas=", o.num_replicas);
}

int64_t samples_per_replica(int64_t n, const SamplerOptions& o) {
  check_sampler_options(o);
  if (o.drop_last) return n / o.num_replicas;
  if (!o.pad) return n / o.num_replicas + (o.rank < n % o.num_replicas ? 1 : 0);
  return (n + o.num_replicas - 1) / o.num_replicas;
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  SplitMix64 rng{seed * 0xD1B54A32D192ED03ull ^ (epoch + 0x632BE59BD9B4E019ull)};
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(static_cast<uint64_t>(i) + 1)]);
  return p;
}

std::vector<int64_t> epoch_indices(int64_t n, const SamplerOptions& o, uint64_t epoch) {
  const int64_t per = samples_per_replica(n, o);
  std::vector<int64_t> order;
  if (o.shuffle) {
    order = permutation(n, o.seed, epoch);
  } else {
    order.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  // Global list of per * num_replicas: truncated, or padded by wrapping around.
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per));
  if (n == 0) return mine;
  for (int64_t j = 0; j < per; ++j) mine.push_back(order[(o.rank + j * o.num_replicas) % n]);
  return mine;
}

}  // namespace trainrt::data
