// Reading a numeric CSV table; see csv_table.h. Lines come from a file (read
// in chunks, each line capped) or from memory; parse_lines is the one parser.
#include "csv_table.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace trt_csv {

namespace {

std::string_view trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string_view() : s.substr(b, e - b + 1);
}

// Splits a line whose comma count is already checked; views into `line`.
void split(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

// The whole field must be a number; strtod alone would accept "3abc".
bool parse_number(std::string_view field, std::string& scratch, double& value) {
  if (field.empty()) return false;
  scratch.assign(field);  // strtod needs a terminated string; scratch keeps its capacity
  char* end = nullptr;
  errno = 0;
  value = std::strtod(scratch.c_str(), &end);
  return end == scratch.c_str() + scratch.size() && errno != ERANGE;
}

// Lines of a file, read in 64 KiB chunks; a line over kMaxLineBytes throws.
class FileLines {
 public:
  explicit FileLines(const std::string& path) : path_(path), buffer_(1 << 16) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      throw std::runtime_error(path + ": is a directory, expected a CSV file");
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  }
  bool next(std::string_view& line, int64_t line_no) {
    line_.clear();
    bool any = false;
    for (;;) {
      if (next_ == end_) {
        end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_.get());
        next_ = 0;
        if (end_ == 0) break;
      }
      any = true;
      const char* start = buffer_.data() + next_;
      const void* newline = std::memchr(start, '\n', end_ - next_);
      size_t n = newline ? static_cast<size_t>(static_cast<const char*>(newline) - start) : end_ - next_;
      line_.append(start, n);
      next_ += newline ? n + 1 : n;
      if (line_.size() > kMaxLineBytes) too_long(path_, line_no);
      if (newline) break;
    }
    if (std::ferror(file_.get())) throw std::runtime_error(path_ + ": read error after line " + std::to_string(line_no - 1));
    line = line_;
    return any;
  }
  [[noreturn]] static void too_long(const std::string& path, int64_t line_no) {
    throw std::runtime_error(path + ":" + std::to_string(line_no) + ": line longer than " +
                             std::to_string(kMaxLineBytes) + " bytes; is this a CSV table?");
  }

 private:
  struct Close {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Close> file_;
  std::vector<char> buffer_;  // bytes [next_, end_) not consumed yet
  size_t next_ = 0, end_ = 0;
  std::string line_;
};

class TextLines {
 public:
  TextLines(std::string_view text, const std::string& name) : text_(text), name_(name) {}
  bool next(std::string_view& line, int64_t line_no) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    if (line.size() > kMaxLineBytes) FileLines::too_long(name_, line_no);
    return true;
  }

 private:
  std::string_view text_;
  const std::string& name_;
  size_t pos_ = 0;
};

template <typename Lines>
CsvTable parse_lines(Lines& lines, const std::string& path, const std::string& label_column) {
  auto at = [&](int64_t line_no) { return path + ":" + std::to_string(line_no) + ": "; };
  CsvTable t;
  std::string_view line;
  int64_t line_no = 0;
  std::vector<std::string_view> fields;
  while (lines.next(line, ++line_no)) {
    if (trim(line).empty()) continue;
    size_t columns = static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
    if (columns > kMaxColumns)
      throw std::runtime_error(at(line_no) + "header has " + std::to_string(columns) + " columns, more than the " +
                               std::to_string(kMaxColumns) + " this reader accepts");
    split(line, fields);
    break;
  }
  if (fields.empty()) throw std::runtime_error(path + ": empty file (expected a header line naming the columns)");
  std::vector<std::string> header(fields.begin(), fields.end());
  int label_col = -1;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c].empty())
      throw std::runtime_error(at(line_no) + "empty column name in the header (column " + std::to_string(c + 1) + ")");
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
  std::string scratch;
  while (lines.next(line, ++line_no)) {
    if (trim(line).empty()) continue;
    size_t columns = static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
    if (columns != ncols)
      throw std::runtime_error(at(line_no) + "expected " + std::to_string(ncols) + " columns, got " +
                               std::to_string(columns));
    split(line, fields);
    for (size_t c = 0; c < ncols; ++c) {
      double v = 0;
      if (!parse_number(fields[c], scratch, v))
        throw std::runtime_error(at(line_no) + "not a number '" + std::string(fields[c]) + "' in column " + header[c]);
      if (static_cast<int>(c) == label_col) {
        if (v != std::floor(v) || v < -9.0e15 || v > 9.0e15)
          throw std::runtime_error(at(line_no) + "label '" + std::string(fields[c]) + "' in column " + header[c] +
                                   " is not an integer class index");
        t.labels.push_back(static_cast<int64_t>(v));
      } else {
        t.features.push_back(static_cast<float>(v));
      }
    }
    ++t.rows;
  }
  if (t.rows == 0) throw std::runtime_error(path + ": no data rows after the header");
  return t;
}

}  // namespace

CsvTable read_csv(const std::string& path, const std::string& label_column) {
  FileLines lines(path);
  return parse_lines(lines, path, label_column);
}

CsvTable parse_csv(std::string_view text, const std::string& label_column, const std::string& name) {
  TextLines lines(text, name);
  return parse_lines(lines, name, label_column);
}

}  // namespace trt_csv
