// Servers the distributed tests start for themselves: a free loopback port to
// host a store on, and a real redis-server (Debian's package) on such a port,
// killed when the test ends. Without redis-server a test is skipped, except
// on CI (CI=true), where the dependency list must have installed it.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

namespace trainrt::test {

// A TCP port on 127.0.0.1 that nobody listens on at the moment of asking.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

inline std::optional<std::string> find_redis_server() {
  const char* path = std::getenv("PATH");
  std::string dirs = std::string(path ? path : "") + ":/usr/bin:/usr/sbin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/redis-server";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

class RedisServer {
 public:
  explicit RedisServer(const std::string& binary) : port_(free_port()) {
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execl(binary.c_str(), "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~RedisServer() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

// Sets `binary` to redis-server's path, or skips (fails on CI) the test.
#define REQUIRE_REDIS_SERVER(binary)                                                                       \
  do {                                                                                                     \
    binary = ::trainrt::test::find_redis_server();                                                         \
    if (!binary) {                                                                                         \
      const char* ci = std::getenv("CI");                                                                  \
      if (ci && std::string(ci) == "true")                                                                 \
        GTEST_FAIL() << "redis-server is not installed; the CI image must install the Debian package "     \
                        "redis-server (containers/deps-debian.txt lists it)";                              \
      GTEST_SKIP() << "redis-server is not installed (Debian package redis-server); skipping Redis tests"; \
    }                                                                                                      \
  } while (0)

}  // namespace trainrt::test
