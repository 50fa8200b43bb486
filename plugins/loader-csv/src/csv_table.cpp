// Reading a numeric CSV table; see csv_table.h.
#include "csv_table.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace trt_csv {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// The whole field must be a number; strtod alone would accept "3abc".
bool parse_number(const std::string& field, double& value) {
  if (field.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(field.c_str(), &end);
  return end == field.c_str() + field.size() && errno != ERANGE;
}

}  // namespace

CsvTable read_csv(const std::string& path, const std::string& label_column) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  CsvTable t;
  std::string line;
  int64_t line_no = 0;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    ++line_no;
    if (!trim(line).empty()) {
      header = split(line);
      break;
    }
  }
  if (header.empty()) throw std::runtime_error(path + ": empty file (expected a header line naming the columns)");
  int label_col = -1;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c].empty())
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": empty column name in the header (column " +
                               std::to_string(c + 1) + ")");
    if (!label_column.empty() && header[c] == label_column) {
      // A second one would be read as a feature the header did not count, shifting every row.
      if (label_col >= 0)
        throw std::runtime_error(path + ": column '" + label_column + "' for label= appears twice in the header");
      label_col = static_cast<int>(c);
    } else {
      t.feature_names.push_back(header[c]);
    }
  }
  if (!label_column.empty() && label_col < 0) {
    std::string names;
    for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
    throw std::runtime_error(path + ": no column '" + label_column + "' for label= (columns: " + names + ")");
  }
  if (t.feature_names.empty())
    throw std::runtime_error(path + ": no feature columns besides the label column '" + label_column + "'");
  t.label_name = label_column;
  const size_t ncols = header.size();
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::vector<std::string> fields = split(line);
    if (fields.size() != ncols)
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": expected " + std::to_string(ncols) +
                               " columns, got " + std::to_string(fields.size()));
    for (size_t c = 0; c < ncols; ++c) {
      double v = 0;
      if (!parse_number(fields[c], v))
        throw std::runtime_error(path + ":" + std::to_string(line_no) + ": not a number '" + fields[c] +
                                 "' in column " + header[c]);
      if (static_cast<int>(c) == label_col) {
        if (v != std::floor(v) || v < -9.0e15 || v > 9.0e15)
          throw std::runtime_error(path + ":" + std::to_string(line_no) + ": label '" + fields[c] + "' in column " +
                                   header[c] + " is not an integer class index");
        t.labels.push_back(static_cast<int64_t>(v));
      } else {
        t.features.push_back(static_cast<float>(v));
      }
    }
    ++t.rows;
  }
  if (in.bad()) throw std::runtime_error(path + ": read error after line " + std::to_string(line_no));
  if (t.rows == 0) throw std::runtime_error(path + ": no data rows after the header");
  return t;
}

}  // namespace trt_csv
