// Fuzzes the plugin check that runs before dlopen (plugin/elf_check.cpp): any
// bytes must give "" or a one-line reason, never a read outside the buffer.
// An input it accepts must at least be a whole ELF header for this machine.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "plugin/elf_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string reason = trainrt::check_elf_plugin(data, size);
  if (reason.empty() && (size < 64 || std::memcmp(data, "\x7f" "ELF", 4) != 0)) __builtin_trap();
  if (reason.find('\n') != std::string::npos) __builtin_trap();  // one line
  return 0;
}
