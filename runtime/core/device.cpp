// Parsing and printing of Device ("cpu:0", "cuda:1").
#include "trainrt/device.h"

#include "trainrt/error.h"

namespace trainrt {

const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "cpu" : "cuda"; }

Device Device::parse(const std::string& text) {
  std::string kind = text, index;
  if (auto colon = text.find(':'); colon != std::string::npos) {
    kind = text.substr(0, colon);
    index = text.substr(colon + 1);
  }
  Device d;
  if (kind == "cpu") d.type = DeviceType::CPU;
  else if (kind == "cuda" || kind == "gpu") d.type = DeviceType::CUDA;
  else fail("unknown device '" + text + "': use cpu, cuda or cuda:N");
  if (!index.empty()) {
    TRT_CHECK(index.find_first_not_of("0123456789") == std::string::npos && index.size() < 4,
              "bad device index in '", text, "': use cpu, cuda or cuda:N with N a number");
    d.index = std::stoi(index);
  }
  return d;
}

std::string Device::str() const { return std::string(device_type_name(type)) + ":" + std::to_string(index); }

}  // namespace trainrt
