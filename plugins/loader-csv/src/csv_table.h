// A numeric CSV table read whole into memory: a header line naming the
// columns, then one row of numbers per line. One column may be the label
// (integer class index); the others become a float32 feature vector.
// Deliberately no quoting, no strings, no missing values: a numeric table only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace trt_csv {

struct CsvTable {
  std::vector<std::string> feature_names;
  std::string label_name;         // empty: no label column
  std::vector<float> features;    // (rows, feature_names.size()) row-major
  std::vector<int64_t> labels;    // (rows) when label_name is set
  int64_t rows = 0;
};

// Throws std::runtime_error with one line: "<path>:<line>: expected 5 columns,
// got 4", "<path>:<line>: not a number 'abc' in column x", "<path>: no column
// 'y' (columns: a, b, c)", a missing file, an empty file or one without rows.
CsvTable read_csv(const std::string& path, const std::string& label_column);

}  // namespace trt_csv
