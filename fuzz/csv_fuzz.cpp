// Fuzzes the CSV reader of plugins/loader-csv. The first line of the input
// names the label column (empty: no label); the rest is the table. A
// malformed table must throw std::runtime_error with a message.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "csv_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string label(input.substr(0, newline == std::string_view::npos ? input.size() : newline));
  std::string_view table = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  try {
    trt_csv::CsvTable t = trt_csv::parse_csv(table, label, "fuzz.csv");
    size_t width = t.feature_names.size();
    if (t.features.size() != static_cast<size_t>(t.rows) * width) __builtin_trap();  // rows x columns, always
    if (!t.label_name.empty() && t.labels.size() != static_cast<size_t>(t.rows)) __builtin_trap();
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
