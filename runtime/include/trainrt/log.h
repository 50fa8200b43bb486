// Logging to stderr: one line per message, prefixed with the level.
// `--quiet` raises the threshold to warnings.
#pragma once
#include <string>

namespace trainrt {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

void log(LogLevel level, const std::string& message);
void set_log_level(LogLevel level);
LogLevel log_level();

}  // namespace trainrt
