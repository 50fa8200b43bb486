// stderr logger shared by the runtime and (through the host API) plugins.
// Safe from any thread: the level is atomic, lines are written under a mutex.
#include "trainrt/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace trainrt {
namespace {
LogLevel initial_level() {
  const char* env = std::getenv("TRAINRT_LOG");
  if (!env) return LogLevel::Info;
  std::string v = env;
  if (v == "debug") return LogLevel::Debug;
  if (v == "warn") return LogLevel::Warn;
  if (v == "error") return LogLevel::Error;
  return LogLevel::Info;
}
std::atomic<LogLevel> g_level{initial_level()};
std::mutex g_mutex;
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, const std::string& message) {
  if (level < g_level) return;
  static const char* prefixes[] = {"trainrt: debug: ", "trainrt: ", "trainrt: warning: ", "trainrt: error: "};
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s%s\n", prefixes[static_cast<int>(level)], message.c_str());
}

}  // namespace trainrt
