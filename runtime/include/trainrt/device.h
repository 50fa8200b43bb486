// Device{type, index}: where a tensor's storage lives ("cpu:0", "cuda:1").
#pragma once
#include <cstdint>
#include <string>

#include "trainrt/plugin_abi.h"

namespace trainrt {

enum class DeviceType : int32_t { CPU = TRT_DEVICE_CPU, CUDA = TRT_DEVICE_CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int32_t index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device parse(const std::string& text);  // "cpu", "cpu:0", "cuda", "cuda:1"; throws on others
  std::string str() const;                        // "cpu:0"
  bool operator==(const Device&) const = default;
};

const char* device_type_name(DeviceType t);  // "cpu", "cuda"

}  // namespace trainrt
