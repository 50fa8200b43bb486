// The transport-independent half of the rendezvous store: the in-process store,
// the prefix store, open_store's URL parsing and the helpers shared by every
// transport (store_backends.h). The TCP, file and Redis stores live in their own
// files; nothing here touches a socket or a file.
#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "dist/store_backends.h"

namespace trainrt::dist {

namespace detail {

Clock::time_point deadline_after(milliseconds timeout) {
  // Ten years is "forever" for a rendezvous and keeps time_point arithmetic in range.
  const milliseconds forever = std::chrono::hours(24 * 365 * 10);
  return Clock::now() + std::clamp(timeout, milliseconds(0), forever);
}

std::string format_seconds(milliseconds duration) {
  std::ostringstream out;
  const double seconds = static_cast<double>(duration.count()) / 1000.0;
  if (duration.count() % 1000 == 0) {
    out << duration.count() / 1000;
  } else {
    out << std::round(seconds * 100.0) / 100.0;
  }
  out << " s";
  return out.str();
}

std::string format_host_port(const HostPort& where) {
  const bool ipv6 = where.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + where.host + "]" : where.host) + ":" + std::to_string(where.port);
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string joined;
  for (const std::string& key : keys) {
    if (!joined.empty()) joined += ", ";
    joined += key;
  }
  return joined;
}

void throw_timeout(const std::string& describe, milliseconds timeout, const std::vector<std::string>& missing_keys) {
  throw StoreTimeout("rendezvous store " + describe + ": timed out after " + format_seconds(timeout) +
                     " waiting for keys: " + join_keys(missing_keys));
}

std::optional<int64_t> parse_counter(const std::string& value) {
  if (value.empty()) return 0;
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(value.c_str(), &end, 10);
  const bool whole = end == value.c_str() + value.size() && !std::isspace(static_cast<unsigned char>(value[0]));
  if (!whole || errno != 0) return std::nullopt;
  return parsed;
}

std::string not_a_counter_message(const std::string& key, const std::string& value) {
  return "add on key '" + key + "' whose value '" + value.substr(0, 40) +
         "' is not a decimal integer; keep counters and other values under different keys";
}

std::string unreachable_message(const std::string& url, milliseconds connect_timeout, const std::string& why) {
  return "cannot reach the rendezvous store at " + url + " after " + format_seconds(connect_timeout) + ": " + why +
         "; is the launcher on node 0 (or rank 0) running, and are MASTER_ADDR/MASTER_PORT right?";
}

}  // namespace detail

namespace {

using detail::Clock;

// Keys in a map guarded by one mutex; waiters sleep on a condition variable
// that every set/add wakes.
class MemoryStore final : public Store {
 public:
  void set(const std::string& key, const std::string& value) override {
    {
      std::lock_guard lock(mutex_);
      values_[key] = value;
    }
    changed_.notify_all();
  }

  std::string get(const std::string& key, milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    wait_locked(lock, {key}, timeout);
    return values_.at(key);
  }

  int64_t add(const std::string& key, int64_t delta) override {
    int64_t result = 0;
    {
      std::lock_guard lock(mutex_);
      std::string& value = values_[key];
      const std::optional<int64_t> current = detail::parse_counter(value);
      TRT_CHECK(current, "rendezvous store ", describe(), ": ", detail::not_a_counter_message(key, value));
      result = *current + delta;
      value = std::to_string(result);
    }
    changed_.notify_all();
    return result;
  }

  bool check(const std::vector<std::string>& keys) override {
    std::lock_guard lock(mutex_);
    return missing_locked(keys).empty();
  }

  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    wait_locked(lock, keys, timeout);
  }

  bool remove(const std::string& key) override {
    std::lock_guard lock(mutex_);
    return values_.erase(key) > 0;
  }

  std::string describe() const override { return "memory://"; }

 private:
  std::vector<std::string> missing_locked(const std::vector<std::string>& keys) const {
    std::vector<std::string> missing;
    for (const std::string& key : keys)
      if (!values_.count(key)) missing.push_back(key);
    return missing;
  }

  void wait_locked(std::unique_lock<std::mutex>& lock, const std::vector<std::string>& keys, milliseconds timeout) {
    const Clock::time_point deadline = detail::deadline_after(timeout);
    const bool present = changed_.wait_until(lock, deadline, [&] { return missing_locked(keys).empty(); });
    if (!present) detail::throw_timeout(describe(), timeout, missing_locked(keys));
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> values_;
};

// Every key becomes prefix + key on the base store. Timeouts come from the base
// and therefore name the full (prefixed) keys, which is what the store holds.
class PrefixStore final : public Store {
 public:
  PrefixStore(std::string prefix, std::shared_ptr<Store> base) : prefix_(std::move(prefix)), base_(std::move(base)) {
    TRT_CHECK(base_ != nullptr, "make_prefix_store('", prefix_, "'): the base store is null");
  }

  void set(const std::string& key, const std::string& value) override { base_->set(prefix_ + key, value); }
  std::string get(const std::string& key, milliseconds timeout) override { return base_->get(prefix_ + key, timeout); }
  int64_t add(const std::string& key, int64_t delta) override { return base_->add(prefix_ + key, delta); }
  bool check(const std::vector<std::string>& keys) override { return base_->check(prefixed(keys)); }
  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    base_->wait(prefixed(keys), timeout);
  }
  bool remove(const std::string& key) override { return base_->remove(prefix_ + key); }
  std::string describe() const override { return base_->describe(); }
  std::string local_address() const override { return base_->local_address(); }

 private:
  std::vector<std::string> prefixed(const std::vector<std::string>& keys) const {
    std::vector<std::string> result;
    result.reserve(keys.size());
    for (const std::string& key : keys) result.push_back(prefix_ + key);
    return result;
  }

  std::string prefix_;
  std::shared_ptr<Store> base_;
};

// "1".."65535", or Error naming the URL and the port text.
int parse_port(const std::string& url, const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 5 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int port = digits ? std::stoi(text) : 0;
  TRT_CHECK(port >= 1 && port <= 65535, "rendezvous store '", url, "': port '", text,
            "' is not a number from 1 to 65535");
  return port;
}

// "HOST:PORT" or "[IPV6]:PORT" after the scheme.
detail::HostPort parse_host_port(const std::string& url, const std::string& rest) {
  const std::string scheme = url.substr(0, url.find("://"));
  detail::HostPort where;
  std::string::size_type colon = std::string::npos;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    TRT_CHECK(close != std::string::npos, "rendezvous store '", url, "': unclosed '[' in the host; use ", scheme,
              "://[::1]:29500 for IPv6");
    where.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') colon = close + 1;
  } else {
    colon = rest.rfind(':');
    where.host = rest.substr(0, colon);
  }
  TRT_CHECK(!where.host.empty(), "rendezvous store '", url, "': no host; use ", scheme, "://HOST:PORT");
  TRT_CHECK(colon != std::string::npos, "rendezvous store '", url, "': no port; use ", scheme, "://HOST:PORT");
  where.port = parse_port(url, rest.substr(colon + 1));
  return where;
}

}  // namespace

std::shared_ptr<Store> make_prefix_store(const std::string& prefix, std::shared_ptr<Store> base) {
  return std::make_shared<PrefixStore>(prefix, std::move(base));
}

std::shared_ptr<Store> make_memory_store() { return std::make_shared<MemoryStore>(); }

// file:// takes only absolute paths (file:///shared/rdzv): "file://dir" would
// read as a host name in URL terms, so it is refused rather than guessed at.
std::shared_ptr<Store> open_store(const std::string& url, milliseconds connect_timeout) {
  const auto separator = url.find("://");
  const std::string scheme = separator == std::string::npos ? "" : url.substr(0, separator);
  const std::string rest = separator == std::string::npos ? "" : url.substr(separator + 3);
  if (scheme == "tcp") return detail::make_tcp_store(parse_host_port(url, rest), connect_timeout);
  if (scheme == "redis") return detail::make_redis_store(parse_host_port(url, rest), connect_timeout);
  if (scheme == "file") {
    TRT_CHECK(!rest.empty() && rest.front() == '/', "rendezvous store '", url,
              "': the directory must be an absolute path, as in file:///shared/rdzv (three slashes)");
    return detail::make_file_store(rest);
  }
  fail("unknown rendezvous store '" + url + "': use tcp://HOST:PORT, file:///DIR or redis://HOST:PORT");
}

}  // namespace trainrt::dist
