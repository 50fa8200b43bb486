// A numeric CSV table read whole into memory: a header line naming the
// columns, then one row of numbers per line. One column may be the label
// (integer class index); the others become a float32 feature vector.
// Bounded: a line longer than kMaxLineBytes or a header wider than kMaxColumns
// is refused before it is split, and a row with more fields than the header is
// refused after counting its commas, so memory stays proportional to the table.
// Deliberately no quoting, no strings, no missing values: a numeric table only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trt_csv {

inline constexpr size_t kMaxLineBytes = size_t(16) << 20;
inline constexpr size_t kMaxColumns = size_t(1) << 20;

struct CsvTable {
  std::vector<std::string> feature_names;
  std::string label_name;         // empty: no label column
  std::vector<float> features;    // (rows, feature_names.size()) row-major
  std::vector<int64_t> labels;    // (rows) when label_name is set
  int64_t rows = 0;
};

// Throws std::runtime_error with one line: "<path>:<line>: expected 5 columns,
// got 4", "<path>:<line>: not a number 'abc' in column x", "<path>: no column
// 'y' (columns: a, b, c)", "<path>:<line>: line longer than 16777216 bytes",
// a missing file or a folder, an empty file or one without rows.
CsvTable read_csv(const std::string& path, const std::string& label_column);

// The same on a file's text already in memory; `name` stands for the path in
// messages. For fuzzing.
CsvTable parse_csv(std::string_view text, const std::string& label_column, const std::string& name);

}  // namespace trt_csv
