// Element types. Values equal the C ABI's trt_dtype so they cross plugins as-is.
// float16/bfloat16 are reserved for storage; no kernel handles them yet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "trainrt/plugin_abi.h"

namespace trainrt {

enum class DType : int32_t {
  Float32 = TRT_FLOAT32,
  Float64 = TRT_FLOAT64,
  Int64 = TRT_INT64,
  UInt8 = TRT_UINT8,
  Float16 = TRT_FLOAT16,
  BFloat16 = TRT_BFLOAT16,
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);       // "float32", ...
DType dtype_from_name(const std::string& name);  // throws with the known names
inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };

}  // namespace trainrt
