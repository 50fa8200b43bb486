// Validation of a safetensors header (see trainrt/checkpoint/safetensors.h):
// JSON through nlohmann-json with a bounded nesting depth and duplicate names
// refused, then every entry's dtype, shape and byte range, then the ranges
// against each other and the data section. Each failure: one line, file first.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "trainrt/checkpoint/safetensors.h"
#include "trainrt/error.h"

namespace trainrt::checkpoint {
namespace {

using nlohmann::json;

// A header is at most {"name": {"shape": [..]}}: depth 2. Anything much deeper
// is not a safetensors header, and is refused before it costs stack or memory.
constexpr int kMaxDepth = 16;

struct DTypeInfo {
  const char* name;
  size_t size;
};
// Every dtype the format defines (safetensors 0.4+), with its element size.
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

std::string clip(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string json_message(const std::exception& e) {
  std::string m = e.what();
  if (m.rfind("[json.exception.", 0) == 0 && m.find("] ") != std::string::npos) m = m.substr(m.find("] ") + 2);
  return m;
}

json parse_json(const std::string& where, std::string_view text) {
  std::set<std::string> names;
  auto guard = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= kMaxDepth)
      bad(where, "header JSON is nested more than " + std::to_string(kMaxDepth) + " levels deep: not a safetensors header");
    if (event == json::parse_event_t::key && depth == 1) {
      const std::string& name = parsed.get_ref<const std::string&>();
      if (!names.insert(name).second) bad(where, "tensor name '" + clip(name) + "' appears twice in the header");
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), guard);
  } catch (const json::exception& e) {
    bad(where, "header is not valid JSON: " + json_message(e));
  }
}

uint64_t unsigned_value(const std::string& where, const std::string& name, const char* field, const json& v) {
  if (!v.is_number_unsigned()) bad(where, "tensor '" + clip(name) + "': " + field + " must hold non-negative integers, got " + clip(v.dump()));
  return v.get<uint64_t>();
}

TensorRecord read_entry(const std::string& where, const std::string& name, const json& info) {
  if (!info.is_object()) bad(where, "tensor '" + clip(name) + "': expected {dtype, shape, data_offsets}, got " + clip(info.dump()));
  TensorRecord r;
  r.name = name;
  auto dtype = info.find("dtype");
  auto shape = info.find("shape");
  auto offsets = info.find("data_offsets");
  if (dtype == info.end() || shape == info.end() || offsets == info.end())
    bad(where, "tensor '" + clip(name) + "' lacks " +
                   (dtype == info.end() ? "dtype" : shape == info.end() ? "shape" : "data_offsets"));
  if (!dtype->is_string()) bad(where, "tensor '" + clip(name) + "': dtype must be a string, got " + clip(dtype->dump()));
  r.dtype = dtype->get<std::string>();
  std::optional<size_t> element = safetensors_dtype_size(r.dtype);
  if (!element)
    bad(where, "tensor '" + clip(name) + "' has unknown dtype '" + clip(r.dtype) +
                   "' (safetensors dtypes: BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E5M2, F8_E4M3)");
  if (!shape->is_array()) bad(where, "tensor '" + clip(name) + "': shape must be a list, got " + clip(shape->dump()));
  uint64_t bytes = *element;
  for (const json& d : *shape) {
    uint64_t size = unsigned_value(where, name, "shape", d);
    if (size > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, size, &bytes))
      bad(where, "tensor '" + clip(name) + "': shape " + clip(shape->dump()) + " is too large (more than 2^64 bytes)");
    r.shape.push_back(static_cast<int64_t>(size));
  }
  if (!offsets->is_array() || offsets->size() != 2)
    bad(where, "tensor '" + clip(name) + "': data_offsets must be [begin, end], got " + clip(offsets->dump()));
  r.begin = unsigned_value(where, name, "data_offsets", (*offsets)[0]);
  r.end = unsigned_value(where, name, "data_offsets", (*offsets)[1]);
  if (r.begin > r.end)
    bad(where, "tensor '" + clip(name) + "': data_offsets [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                   ") end before they begin");
  if (r.end - r.begin != bytes)
    bad(where, "tensor '" + clip(name) + "': shape " + clip(shape->dump()) + " of " + r.dtype + " needs " +
                   std::to_string(bytes) + " bytes but data_offsets [" + std::to_string(r.begin) + ", " +
                   std::to_string(r.end) + ") hold " + std::to_string(r.end - r.begin));
  return r;
}

// Sorted by offset, the ranges must tile [0, data_bytes): each starts where the previous ended.
void check_layout(const std::string& where, std::vector<TensorRecord>& tensors, uint64_t data_bytes) {
  for (const TensorRecord& t : tensors)
    if (t.end > data_bytes)
      bad(where, "tensor '" + clip(t.name) + "' ends at byte " + std::to_string(t.end) + " but the data section has " +
                     std::to_string(data_bytes) + " bytes (file truncated?)");
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorRecord& a, const TensorRecord& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorRecord* previous = nullptr;
  for (const TensorRecord& t : tensors) {
    if (t.begin < covered)
      bad(where, "tensor '" + clip(t.name) + "' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     ") overlaps tensor '" + clip(previous->name) + "' [" + std::to_string(previous->begin) + ", " +
                     std::to_string(previous->end) + ")");
    if (t.begin > covered)
      bad(where, "gap in the data section: bytes [" + std::to_string(covered) + ", " + std::to_string(t.begin) +
                     ") belong to no tensor (next: '" + clip(t.name) + "')");
    covered = t.end;
    previous = &t;
  }
  if (covered != data_bytes)
    bad(where, "the data section has " + std::to_string(data_bytes) + " bytes but the tensors cover " +
                   std::to_string(covered) + ": " + std::to_string(data_bytes - covered) + " trailing bytes");
}

}  // namespace

std::optional<size_t> safetensors_dtype_size(std::string_view name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return d.size;
  return std::nullopt;
}

const char* safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::Float16: return "F16";
    case DType::BFloat16: return "BF16";
  }
  fail("safetensors: no name for dtype " + std::to_string(static_cast<int>(dtype)));
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  if (name == "F32") return DType::Float32;
  if (name == "F64") return DType::Float64;
  if (name == "I64") return DType::Int64;
  if (name == "U8" || name == "BOOL") return DType::UInt8;
  if (name == "F16") return DType::Float16;
  if (name == "BF16") return DType::BFloat16;
  return std::nullopt;
}

Header parse_header(const std::string& where, std::string_view text, uint64_t data_bytes) {
  json root = parse_json(where, text);
  if (!root.is_object()) bad(where, "header must be a JSON object, got " + std::string(root.type_name()));
  Header h;
  h.header_bytes = text.size();
  h.data_bytes = data_bytes;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) bad(where, "__metadata__ must be an object of strings, got " + clip(it.value().dump()));
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          bad(where, "__metadata__ value of '" + clip(m.key()) + "' must be a string, got " + clip(m.value().dump()));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(read_entry(where, it.key(), it.value()));
  }
  check_layout(where, h.tensors, data_bytes);
  return h;
}

}  // namespace trainrt::checkpoint
