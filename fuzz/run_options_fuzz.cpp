// Fuzzes the run-option parser (config/run_options.cpp): the input is a
// command line, arguments separated by newlines. Every option either parses
// or throws trainrt::UsageError with a message; nothing else may happen
// (no crash, no other exception, no read past the arguments).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/run_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  trainrt::RunOptions options;
  for (size_t i = 0; i < args.size();) {
    size_t used = 0;
    try {
      used = trainrt::take_run_option(args, i, options);
    } catch (const trainrt::UsageError& e) {
      if (std::string(e.what()).empty()) __builtin_trap();  // an error must say something
      used = 1;
    }
    i += used == 0 ? 1 : used;
  }
  return 0;
}
