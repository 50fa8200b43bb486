// trainrt::Error: the one exception type the runtime throws. Its message is a
// single line meant for the user: what failed, the values involved, what to do.
// Not for control flow; bindings turn it into a Lua error or a non-zero exit.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace trainrt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

// TRT_CHECK(cond, parts...): throws Error(parts...) when cond is false.
#define TRT_CHECK(cond, ...)                                              \
  do {                                                                    \
    if (!(cond)) throw ::trainrt::Error(::trainrt::detail::concat(__VA_ARGS__)); \
  } while (0)

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace trainrt
