// The Redis rendezvous store (redis://HOST:PORT), for clusters that already run
// Redis: SET/GET/INCRBY/EXISTS/DEL through hiredis, one connection per store
// under a mutex; get and wait poll. Every key is stored as "trainrt/" + key so a
// shared Redis is not polluted. Deliberately not here: AUTH, TLS, database
// selection, Redis Cluster, and deleting keys when the job ends.
#include <hiredis/hiredis.h>

#include <mutex>
#include <thread>

#include "dist/store_backends.h"

namespace trainrt::dist {

namespace {

using detail::Clock;
using detail::HostPort;

constexpr const char* kKeyNamespace = "trainrt/";
constexpr milliseconds kPollEvery{20};
constexpr milliseconds kConnectRetryEvery{100};
constexpr timeval kCommandTimeout{30, 0};  // a Redis that stops answering is an error, not a hang

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
using Context = std::unique_ptr<redisContext, ContextDeleter>;

timeval to_timeval(milliseconds duration) {
  const auto ms = std::max<int64_t>(duration.count(), 100);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

class RedisStore final : public Store {
 public:
  RedisStore(const HostPort& where, milliseconds connect_timeout)
      : describe_("redis://" + detail::format_host_port(where)) {
    const Clock::time_point deadline = detail::deadline_after(connect_timeout);
    std::string why = "not tried";
    while (!(context_ = connect_once(where, deadline, why))) {
      const Clock::time_point now = Clock::now();
      if (now >= deadline) throw Error(detail::unreachable_message(describe_, connect_timeout, why));
      std::this_thread::sleep_until(std::min(now + kConnectRetryEvery, deadline));
    }
    redisSetTimeout(context_.get(), kCommandTimeout);
    std::lock_guard lock(mutex_);
    command({"PING"}, "PING");  // fails early on a server that wants AUTH
  }

  void set(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mutex_);
    command({"SET", namespaced(key), value}, "SET '" + key + "'");
  }

  std::string get(const std::string& key, milliseconds timeout) override {
    const Clock::time_point deadline = detail::deadline_after(timeout);
    while (true) {
      {
        std::lock_guard lock(mutex_);
        Reply reply = command({"GET", namespaced(key)}, "GET '" + key + "'");
        if (reply->type == REDIS_REPLY_STRING) return std::string(reply->str, reply->len);
      }
      sleep_or_time_out(deadline, timeout, {key});
    }
  }

  int64_t add(const std::string& key, int64_t delta) override {
    std::lock_guard lock(mutex_);
    return command({"INCRBY", namespaced(key), std::to_string(delta)}, "add on key '" + key + "'")->integer;
  }

  bool check(const std::vector<std::string>& keys) override {
    std::lock_guard lock(mutex_);
    return count_existing(keys) == static_cast<long long>(keys.size());
  }

  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    const Clock::time_point deadline = detail::deadline_after(timeout);
    while (!check(keys)) {
      const Clock::time_point now = Clock::now();
      if (now >= deadline) {
        std::lock_guard lock(mutex_);
        detail::throw_timeout(describe_, timeout, missing(keys));
      }
      std::this_thread::sleep_until(std::min(now + kPollEvery, deadline));
    }
  }

  bool remove(const std::string& key) override {
    std::lock_guard lock(mutex_);
    return command({"DEL", namespaced(key)}, "DELETE '" + key + "'")->integer > 0;
  }

  std::string describe() const override { return describe_; }

 private:
  static Context connect_once(const HostPort& where, Clock::time_point deadline, std::string& why) {
    const milliseconds left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    Context context(redisConnectWithTimeout(where.host.c_str(), where.port, to_timeval(left)));
    if (context && context->err == 0) return context;
    why = context ? context->errstr : "out of memory";
    return nullptr;
  }

  static std::string namespaced(const std::string& key) { return kKeyNamespace + key; }

  void sleep_or_time_out(Clock::time_point deadline, milliseconds timeout, const std::vector<std::string>& keys) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) detail::throw_timeout(describe_, timeout, keys);
    std::this_thread::sleep_until(std::min(now + kPollEvery, deadline));
  }

  long long count_existing(const std::vector<std::string>& keys) {
    if (keys.empty()) return 0;
    std::vector<std::string> args{"EXISTS"};
    for (const std::string& key : keys) args.push_back(namespaced(key));
    return command(args, "EXISTS for " + detail::join_keys(keys))->integer;
  }

  std::vector<std::string> missing(const std::vector<std::string>& keys) {
    std::vector<std::string> absent;
    for (const std::string& key : keys)
      if (count_existing({key}) == 0) absent.push_back(key);
    return absent;
  }

  // Runs one command (mutex_ held); a Redis error reply or a lost connection
  // throws, and a lost connection stays lost.
  Reply command(const std::vector<std::string>& args, const std::string& what) {
    TRT_CHECK(context_, "rendezvous store ", describe_, ": cannot send ", what, ": the connection was lost earlier (",
              lost_, ")");
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context_.get(), static_cast<int>(args.size()), argv.data(), lengths.data())));
    if (!reply) {
      lost_ = context_->errstr[0] != '\0' ? context_->errstr : "no reply";
      context_.reset();
      fail("rendezvous store " + describe_ + ": " + what + " failed: " + lost_ +
           "; is the Redis server still running and reachable?");
    }
    TRT_CHECK(reply->type != REDIS_REPLY_ERROR, "rendezvous store ", describe_, ": ", what,
              " failed: Redis says '", std::string(reply->str, reply->len), "'");
    return reply;
  }

  const std::string describe_;
  std::mutex mutex_;  // one command at a time on the connection
  Context context_;
  std::string lost_;
};

}  // namespace

namespace detail {

std::shared_ptr<Store> make_redis_store(const HostPort& where, milliseconds connect_timeout) {
  return std::make_shared<RedisStore>(where, connect_timeout);
}

}  // namespace detail

}  // namespace trainrt::dist
