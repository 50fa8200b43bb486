// The counters `trainrt serve` exposes on /metrics, in Prometheus' text format
// (version 0.0.4): requests by route and status, predict latency and batch
// size histograms, the in-flight gauge. Thread-safe; one mutex, since every
// update is a handful of additions. Deliberately not a general metrics
// registry: the training metrics (--metrics-port) have their own.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace trainrt::serve {

// Cumulative buckets as Prometheus wants them: counts[i] = observations <= bounds[i].
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // one per bound
  uint64_t count = 0;
  double sum = 0;
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
};

class Metrics {
 public:
  explicit Metrics(int64_t max_batch);
  // One answered request. `route` is a served path or "other"; predict's latency goes to the histogram.
  void request_done(const std::string& route, int status);
  void predict_latency(double seconds);
  void batch_done(int64_t rows);
  void in_flight_add(int delta);
  std::string exposition() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_;
  Histogram batch_size_;
  int64_t in_flight_ = 0;
};

}  // namespace trainrt::serve
