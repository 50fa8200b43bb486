// Training metrics: a small, thread-safe registry of counters, gauges and
// histograms with label sets, its Prometheus text exposition (format 0.0.4),
// and the HTTP endpoint (`--metrics-port`) that serves it with /healthz.
// The runtime's own metrics (docs/monitoring.md has the list) are recorded
// through the named functions at the bottom, so their names live in one file
// (runtime/metrics/training.cpp). Deliberately not here: pushing to a gateway,
// summaries with quantiles, OpenMetrics.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace trainrt::metrics {

// Label names and values, sorted by name when a series is created.
using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { Counter, Gauge, Histogram };

// A value that only grows (requests, seconds spent, ...). set_total() mirrors
// a total kept elsewhere (the kernel profile); it must never go down.
class Counter {
 public:
  void inc(double by = 1);
  void set_total(double total);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets (upper bounds, +Inf implied), a sum and a count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = above every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Bucket bounds for durations: 100 us ... 60 s.
const std::vector<double>& duration_buckets();

// Families by name; each holds its series by label set. Series are never
// removed, so the references returned may be kept and used from any
// thread. A name reused with another type, or an invalid name, throws Error.
class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       Labels labels = {});

  // Called before every exposition, to set values read at scrape time (memory).
  void on_collect(std::function<void()> collector);
  // Labels put on every series (job, rank).
  void set_constant_labels(Labels labels);

  // The text format 0.0.4: # HELP and # TYPE per family, families by name.
  std::string expose();

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, Series> series;
  };
  Series& series(const std::string& name, Type type, const std::string& help, Labels labels);

  std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void()>> collectors_;
  Labels constant_;
};

// The process's registry: what /metrics serves.
Registry& registry();

// One number in the text format: integers without a fraction, +Inf, -Inf, NaN.
std::string format_value(double v);
// A label value escaped for the text format (\\, \", \n).
std::string escape_label_value(const std::string& value);

// ---- the endpoint ----------------------------------------------------------

struct EndpointSettings {
  int port = -1;                    // [metrics] port / --metrics-port; -1: off, 0: any free port
  std::string host = "127.0.0.1";   // [metrics] host
  std::string job;                  // [metrics] job; "" = the script's name
};
// Read from a run's config by metrics/settings.h (endpoint_settings_of).

// Serves /metrics and /healthz on host:(port + local_rank) from a thread until
// destroyed. Sets the constant labels (job, rank) and turns on kernel timing.
// A port in use throws Error naming host, port and rank.
class Endpoint {
 public:
  Endpoint(const EndpointSettings& settings, const std::string& script);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  int port() const { return port_; }

 private:
  struct Server;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

// The port an Endpoint of this process serves on (after port 0 was resolved); 0 when none.
int serving_port();

// ---- the runtime's metrics (runtime/metrics/training.cpp) --------------------

// One training step of `samples` samples, ending now after `seconds`
// (scripts/trainrt/progress.lua calls it through trainrt.metrics.step).
struct Step {
  double samples = 0;
  double seconds = 0;
  double loss = 0;
  bool has_loss = false;
  int64_t epoch = 0;
  int64_t epoch_step = 0;
  double samples_per_second = -1;  // < 0: not known
};
void record_step(const Step& step);
void record_data_wait(double seconds);                          // one DataLoader batch
void record_collective_issued(int64_t seq);
void record_collective_done(const char* op, int64_t seq, double seconds_since_issue, double seconds_waited);
void record_checkpoint_saved();
void set_world_size(int world_size);
void set_eval(double loss, double accuracy, bool has_accuracy);
// Registers the collectors read at scrape time (memory per device, checkpoint
// age, kernel profile) and the fixed series. Called once by Endpoint.
void register_runtime_metrics();
// Current step and epoch, for /healthz.
std::string health_line();

}  // namespace trainrt::metrics
