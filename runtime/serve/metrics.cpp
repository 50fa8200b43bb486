// Prometheus text exposition for `trainrt serve` (see metrics.h).
#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace trainrt::serve {
namespace {

// The shortest of %.15g..%.17g that reads back as v: 0.0025, not 0.0025000000000000001.
std::string number(double v) {
  char buf[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// 1, 2, 4, ... up to and including max_batch.
std::vector<double> batch_bounds(int64_t max_batch) {
  std::vector<double> bounds;
  for (int64_t b = 1; b < max_batch; b *= 2) bounds.push_back(static_cast<double>(b));
  bounds.push_back(static_cast<double>(max_batch));
  return bounds;
}

void write_histogram(std::string& out, const std::string& name, const std::string& help, const Histogram& h) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < h.bounds.size(); ++i)
    out += name + "_bucket{le=\"" + number(h.bounds[i]) + "\"} " + std::to_string(h.counts[i]) + "\n";
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  out += name + "_sum " + number(h.sum) + "\n";
  out += name + "_count " + std::to_string(h.count) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds(std::move(upper_bounds)), counts(bounds.size(), 0) {}

void Histogram::observe(double value) {
  for (size_t i = 0; i < bounds.size(); ++i)
    if (value <= bounds[i]) ++counts[i];
  ++count;
  sum += value;
}

Metrics::Metrics(int64_t max_batch)
    : latency_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      batch_size_(batch_bounds(std::max<int64_t>(max_batch, 1))) {}

void Metrics::request_done(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::predict_latency(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_.observe(seconds);
}

void Metrics::batch_done(int64_t rows) {
  std::lock_guard<std::mutex> lock(mu_);
  batch_size_.observe(static_cast<double>(rows));
}

void Metrics::in_flight_add(int delta) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ += delta;
}

std::string Metrics::exposition() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP trainrt_serve_requests_total HTTP requests answered, by route and status code.\n"
         "# TYPE trainrt_serve_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += "trainrt_serve_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  write_histogram(out, "trainrt_serve_request_duration_seconds",
                  "Time from receiving a /v1/predict request to its answer (seconds).", latency_);
  write_histogram(out, "trainrt_serve_batch_size", "Inputs (rows) per model forward.", batch_size_);
  out += "# HELP trainrt_serve_in_flight_requests /v1/predict requests received and not yet answered.\n"
         "# TYPE trainrt_serve_in_flight_requests gauge\n"
         "trainrt_serve_in_flight_requests " + std::to_string(in_flight_) + "\n";
  return out;
}

}  // namespace trainrt::serve
