// Hand-made safetensors bytes for the checkpoint tests (unit, CLI, fuzz seeds):
// a file is the 8-byte little-endian header length, the header text and the
// data, so each malformed case is one header string away from a valid file.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

namespace trainrt::test {

// length(header) as 8 little-endian bytes + header + data.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

inline void write_binary(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A valid file: "a" F32 (2) = {1, 2} then "b" I64 () = 7, 16 data bytes.
inline std::string valid_safetensors() {
  std::string data(16, '\0');
  float a[2] = {1.0f, 2.0f};
  int64_t b = 7;
  std::memcpy(data.data(), a, 8);
  std::memcpy(data.data() + 8, &b, 8);
  return safetensors_bytes(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}})",
      data);
}

}  // namespace trainrt::test
