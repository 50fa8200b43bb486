// Private to runtime/dist: the constructors open_store dispatches to, and the
// few helpers every store shares (deadlines, the timeout message, decimal
// counters), so all transports word their errors the same way.
// Not a public interface: callers go through trainrt/dist/store.h.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trainrt/dist/store.h"

namespace trainrt::dist::detail {

using Clock = std::chrono::steady_clock;

// host:port as parsed from a URL; host without IPv6 brackets.
struct HostPort {
  std::string host;
  int port = 0;
};

std::shared_ptr<Store> make_tcp_store(const HostPort& where, milliseconds connect_timeout);
std::shared_ptr<Store> make_file_store(const std::string& directory);
std::shared_ptr<Store> make_redis_store(const HostPort& where, milliseconds connect_timeout);

// now + timeout, clamped so that "wait forever" (milliseconds::max()) cannot overflow.
Clock::time_point deadline_after(milliseconds timeout);

// "30 s", "1.5 s", "0.25 s": a duration for messages.
std::string format_seconds(milliseconds duration);

// "host:port", with brackets around an IPv6 host.
std::string format_host_port(const HostPort& where);

// "a, b, c".
std::string join_keys(const std::vector<std::string>& keys);

// StoreTimeout("rendezvous store D: timed out after T waiting for keys: a, b").
[[noreturn]] void throw_timeout(const std::string& describe, milliseconds timeout,
                                const std::vector<std::string>& missing_keys);

// The integer a counter key holds ("" = absent = 0); nullopt when it holds something else.
std::optional<int64_t> parse_counter(const std::string& value);

// "add on key 'k' whose value 'v' is not a decimal integer; ...", for a value parse_counter refused.
std::string not_a_counter_message(const std::string& key, const std::string& value);

// "cannot reach the rendezvous store at URL after T: WHY; is the launcher ...?"
std::string unreachable_message(const std::string& url, milliseconds connect_timeout, const std::string& why);

}  // namespace trainrt::dist::detail
