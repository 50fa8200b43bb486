// The metrics registry (see trainrt/metrics.h): families by name, series by
// label set, values updated without a lock (counters and gauges) or under a
// short one (histograms). The text format is exposition.cpp.
#include <algorithm>
#include <cctype>

#include "trainrt/error.h"
#include "trainrt/metrics.h"

namespace trainrt::metrics {
namespace {

void atomic_add(std::atomic<double>& value, double by) {
  double old = value.load(std::memory_order_relaxed);
  while (!value.compare_exchange_weak(old, old + by, std::memory_order_relaxed)) {
  }
}

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; labels the same without ':'.
bool valid_name(const std::string& name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool ok = std::isalpha(c) || c == '_' || (!label && c == ':') || (i > 0 && std::isdigit(c));
    if (!ok || c >= 0x80) return false;
  }
  return !(label && name.rfind("__", 0) == 0);  // reserved for Prometheus
}

const char* type_name(Type type) {
  switch (type) {
    case Type::Counter: return "counter";
    case Type::Gauge: return "gauge";
    case Type::Histogram: return "histogram";
  }
  return "?";
}

}  // namespace

void Counter::inc(double by) {
  TRT_CHECK(by >= 0, "a counter only grows: inc(", by, ")");
  atomic_add(value_, by);
}

void Counter::set_total(double total) {
  double old = value_.load(std::memory_order_relaxed);
  while (total > old && !value_.compare_exchange_weak(old, total, std::memory_order_relaxed)) {
  }
}

void Gauge::add(double by) { atomic_add(value_, by); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();  // first bound >= v
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mutex_);
  uint64_t running = 0;
  for (uint64_t c : counts_) s.cumulative.push_back(running += c);
  s.sum = sum_;
  s.count = count_;
  return s;
}

const std::vector<double>& duration_buckets() {
  static const std::vector<double> bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return bounds;
}

// Called with mutex_ held.
Registry::Series& Registry::series(const std::string& name, Type type, const std::string& help, Labels labels) {
  TRT_CHECK(valid_name(name, false), "metric name '", name, "' is not valid: letters, digits, '_' and ':', not starting with a digit");
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    TRT_CHECK(valid_name(labels[i].first, true), "metric ", name, ": label name '", labels[i].first, "' is not valid");
    TRT_CHECK(labels[i].first != "le" || type != Type::Histogram, "metric ", name, ": a histogram may not have a label 'le'");
    TRT_CHECK(i == 0 || labels[i].first != labels[i - 1].first, "metric ", name, ": label '", labels[i].first, "' given twice");
  }
  auto [it, created] = families_.try_emplace(name, Family{type, help, {}});
  Family& family = it->second;
  TRT_CHECK(family.type == type, "metric ", name, " is a ", type_name(family.type), ", not a ", type_name(type));
  if (!created && family.help.empty()) family.help = help;
  return family.series.try_emplace(labels, Series{labels, nullptr, nullptr, nullptr}).first->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, Type::Counter, help, std::move(labels));
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, Type::Gauge, help, std::move(labels));
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                               Labels labels) {
  TRT_CHECK(std::is_sorted(bounds.begin(), bounds.end()) &&
                std::adjacent_find(bounds.begin(), bounds.end()) == bounds.end(),
            "metric ", name, ": histogram buckets must be increasing");
  std::lock_guard lock(mutex_);
  Series& s = series(name, Type::Histogram, help, std::move(labels));
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void Registry::on_collect(std::function<void()> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

void Registry::set_constant_labels(Labels labels) {
  for (const auto& [name, value] : labels) TRT_CHECK(valid_name(name, true), "label name '", name, "' is not valid");
  std::sort(labels.begin(), labels.end());
  std::lock_guard lock(mutex_);
  constant_ = std::move(labels);
}

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: collective and queue threads may record at exit
  return *r;
}

}  // namespace trainrt::metrics
