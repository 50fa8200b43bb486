// `trainrt inspect FILE [--json]`: the tensors of a safetensors file (name,
// dtype, shape, bytes) and its metadata, after the same validation a load
// does; a trainrt checkpoint's JSON state is shown indented. Reads only the
// header: no tensor data, no plugins, nothing executed.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "trainrt/checkpoint/safetensors.h"

namespace trainrt::cli {
namespace {

void print_inspect_usage() {
  std::printf("usage: trainrt inspect FILE [--json]\n\n"
              "Lists the tensors of a safetensors file (name, dtype, shape, bytes) and its\n"
              "metadata, after checking the file as a load would. --json prints one JSON object.\n");
}

std::string shape_text(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A metadata value that is a JSON object or array (trainrt.state), parsed; else
// null (printed as it is). Nested deeper than any state trainrt writes: null too,
// so that printing it indented never recurses without bound.
nlohmann::ordered_json as_json(const std::string& value) {
  if (value.empty() || (value[0] != '{' && value[0] != '[')) return nullptr;
  struct TooDeep {};
  auto bounded = [](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
    if (depth > 64) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::ordered_json::parse(value, bounded);
  } catch (...) {
    return nullptr;
  }
}

void print_text(const std::string& path, const checkpoint::Header& h) {
  uint64_t file_bytes = h.data_offset() + h.data_bytes;
  std::printf("%s: safetensors, %zu tensors, %llu bytes (header %llu, data %llu)\n", path.c_str(), h.tensors.size(),
              static_cast<unsigned long long>(file_bytes), static_cast<unsigned long long>(h.header_bytes),
              static_cast<unsigned long long>(h.data_bytes));
  size_t width = 4;
  for (const auto& t : h.tensors) width = std::max(width, t.name.size());
  if (!h.tensors.empty()) std::printf("  %-*s  %-7s %-20s %12s\n", static_cast<int>(width), "name", "dtype", "shape", "bytes");
  for (const auto& t : h.tensors)
    std::printf("  %-*s  %-7s %-20s %12llu\n", static_cast<int>(width), t.name.c_str(), t.dtype.c_str(),
                shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.end - t.begin));
  if (h.metadata.empty()) return;
  std::printf("metadata:\n");
  for (const auto& [key, value] : h.metadata) {
    nlohmann::ordered_json parsed = as_json(value);
    if (parsed.is_null()) {
      std::printf("  %s: %s\n", key.c_str(), value.c_str());
      continue;
    }
    std::string text = parsed.dump(2);
    std::string indented;
    for (char c : text) indented += c == '\n' ? std::string("\n    ") : std::string(1, c);
    std::printf("  %s:\n    %s\n", key.c_str(), indented.c_str());
  }
}

void print_json(const std::string& path, const checkpoint::Header& h) {
  nlohmann::ordered_json out;
  out["file"] = path;
  out["header_bytes"] = h.header_bytes;
  out["data_bytes"] = h.data_bytes;
  out["tensors"] = nlohmann::ordered_json::array();
  for (const auto& t : h.tensors)
    out["tensors"].push_back({{"name", t.name},
                              {"dtype", t.dtype},
                              {"shape", t.shape},
                              {"bytes", t.end - t.begin},
                              {"data_offsets", nlohmann::ordered_json::array({t.begin, t.end})}});
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();
  for (const auto& [key, value] : h.metadata) metadata[key] = value;
  out["metadata"] = metadata;
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

}  // namespace

int inspect_command(const std::vector<std::string>& args) {
  std::string file;
  bool json = false;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      print_inspect_usage();
      return 0;
    }
    if (a == "--json") json = true;
    else if (a.size() > 1 && a[0] == '-') throw UsageError("inspect: unknown option " + a + " (usage: trainrt inspect FILE [--json])");
    else if (file.empty()) file = a;
    else throw UsageError("inspect: one FILE at a time, got '" + file + "' and '" + a + "'");
  }
  if (file.empty()) throw UsageError("inspect: missing FILE (usage: trainrt inspect FILE [--json])");
  checkpoint::Header header = checkpoint::read_header(file);
  if (json) print_json(file, header);
  else print_text(file, header);
  return 0;
}

}  // namespace trainrt::cli
