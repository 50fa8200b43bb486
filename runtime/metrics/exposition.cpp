// The Prometheus text format, version 0.0.4 (what /metrics serves):
//   # HELP trainrt_loss the loss of the last step
//   # TYPE trainrt_loss gauge
//   trainrt_loss{job="mnist",rank="0"} 0.4312
// Families sorted by name, series by labels; histograms as _bucket{le=...},
// _sum and _count. `promtool check metrics` accepts it (tests/lua/metrics_test.cpp).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "trainrt/metrics.h"

namespace trainrt::metrics {
namespace {

std::string escape_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="1",b="2"}: the constant labels a series does not set itself, its own, and `extra` (le).
std::string label_text(const Labels& constant, const Labels& own, const std::pair<std::string, std::string>* extra) {
  Labels all = own;
  for (const auto& c : constant) {
    bool overridden = false;
    for (const auto& o : own) overridden = overridden || o.first == c.first;
    if (!overridden) all.push_back(c);
  }
  std::sort(all.begin(), all.end());
  if (extra) all.push_back(*extra);
  if (all.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < all.size(); ++i)
    out += (i ? "," : "") + all[i].first + "=\"" + escape_label_value(all[i].second) + "\"";
  return out + "}";
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as v, in Go's %g style as Prometheus's
  // own clients write it: 0.0001 and 12345678901, but 1e-05 and 1e+21.
  const double a = std::fabs(v);
  const auto format = a != 0 && (a < 1e-4 || a >= 1e21) ? std::chars_format::scientific : std::chars_format::fixed;
  char buffer[400];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v, format);
  return std::string(buffer, result.ptr);
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Registry::expose() {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();  // they set gauges: outside the lock

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (family.series.empty()) continue;
    out += "# HELP " + name + " " + escape_help(family.help) + "\n";
    out += "# TYPE " + name + " " + (family.type == Type::Counter ? "counter" : family.type == Type::Gauge ? "gauge" : "histogram") + "\n";
    for (const auto& [labels, s] : family.series) {
      if (s.counter) {
        out += name + label_text(constant_, labels, nullptr) + " " + format_value(s.counter->value()) + "\n";
      } else if (s.gauge) {
        out += name + label_text(constant_, labels, nullptr) + " " + format_value(s.gauge->value()) + "\n";
      } else if (s.histogram) {
        Histogram::Snapshot h = s.histogram->snapshot();
        for (size_t i = 0; i <= h.bounds.size(); ++i) {
          std::pair<std::string, std::string> le{"le", i < h.bounds.size() ? format_value(h.bounds[i]) : "+Inf"};
          out += name + "_bucket" + label_text(constant_, labels, &le) + " " +
                 format_value(static_cast<double>(h.cumulative[i])) + "\n";
        }
        out += name + "_sum" + label_text(constant_, labels, nullptr) + " " + format_value(h.sum) + "\n";
        out += name + "_count" + label_text(constant_, labels, nullptr) + " " +
               format_value(static_cast<double>(h.count)) + "\n";
      }
    }
  }
  return out;
}

}  // namespace trainrt::metrics
