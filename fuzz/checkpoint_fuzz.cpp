// libFuzzer target for the checkpoint reader: arbitrary bytes as a safetensors
// file (header length, JSON header, data section) through the same checks and
// tensor construction a load runs, then the Lua names of what it read. Any
// outcome but a trainrt::Error or success is a bug: a crash, a sanitizer
// report, an allocation past the input's size, a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "trainrt/checkpoint/names.h"
#include "trainrt/checkpoint/safetensors.h"
#include "trainrt/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    trainrt::checkpoint::File file = trainrt::checkpoint::read_bytes("fuzz.safetensors", bytes);
    size_t total = 0;
    for (const auto& [name, tensor] : file.tensors) {
      total += static_cast<size_t>(tensor.numel()) * trainrt::dtype_size(tensor.dtype());
      (void)trainrt::checkpoint::lua_name_of(name);
    }
    if (total > size) __builtin_trap();  // tensors hold more bytes than the input had
  } catch (const trainrt::Error&) {
  }
  return 0;
}
