// The safetensors format (Hugging Face): 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end)},
// "__metadata__": {str: str}}, then the raw little-endian data section. Reading
// validates everything before allocating tensors; every failure is one line
// that starts with the file's name. Nothing in a file is ever executed.
// Not here: trainrt's checkpoint layout (model file + state file; checkpoint.md).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trainrt/tensor.h"

namespace trainrt::checkpoint {

// Headers larger than this are refused before reading them (the reference
// implementation's limit), so a corrupt length never becomes a huge allocation.
inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// One entry of a validated header.
struct TensorRecord {
  std::string name;
  std::string dtype;  // safetensors' name: "F32", "I64", ...
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range [begin, end) in the data section
};

// A validated header: tensors sorted by offset, covering the data section
// exactly (no overlap, no gap, nothing past the end).
struct Header {
  std::vector<TensorRecord> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t header_bytes = 0;  // N
  uint64_t data_bytes = 0;    // file size - 8 - N
  uint64_t data_offset() const { return 8 + header_bytes; }
};

// Element size of a safetensors dtype name ("F32" -> 4), or nullopt when unknown.
std::optional<size_t> safetensors_dtype_size(std::string_view name);
// trainrt dtype <-> safetensors name. BOOL reads as uint8; I32, U16, ... are
// known to the format but have no trainrt dtype (nullopt).
const char* safetensors_dtype_name(DType dtype);
std::optional<DType> dtype_from_safetensors(std::string_view name);

// Validates `json` (the header's N bytes) for a data section of data_bytes.
// `where` (the file's name) starts every error message.
Header parse_header(const std::string& where, std::string_view json, uint64_t data_bytes);

// Reads and validates the header of the file at path (8 + N bytes are read).
Header read_header(const std::string& path);

struct File {
  Header header;
  std::vector<std::pair<std::string, Tensor>> tensors;  // CPU, contiguous, in offset order
};
// Reads and validates a whole file; tensors are allocated only after every
// check passed (their total size is bounded by the file's size).
File read_file(const std::string& path);
// The same checks and tensors from bytes in memory (the fuzz target's entry).
File read_bytes(const std::string& where, std::string_view bytes);

// Writes tensors (any device or layout: copied to contiguous host memory) and
// metadata atomically to path (atomic_file.h). Tensors are laid out by element
// size, largest first, so every tensor is aligned in the data section; the
// header is padded with spaces to a multiple of 8. Names must be unique.
void write_file(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                const std::map<std::string, std::string>& metadata);

}  // namespace trainrt::checkpoint
