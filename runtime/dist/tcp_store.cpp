// The TCP rendezvous store: TcpStoreServer (one poll() thread serving every
// client; GET and WAIT park on the server, which answers them when the keys
// appear or with a TIMEOUT at their deadline) and the client open_store
// returns for tcp:// (one connection, one request at a time under a mutex).
// Wire format: tcp_store_protocol.h. Deliberately not here: reconnecting after
// the server is gone, authentication, persistence.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "dist/store_backends.h"
#include "dist/tcp_store_protocol.h"
#include "trainrt/log.h"

namespace trainrt::dist {

namespace {

using detail::Clock;
using detail::HostPort;
using tcp_protocol::Message;
using tcp_protocol::Op;
using tcp_protocol::ProtocolError;
using tcp_protocol::Status;

// How long a reply to a non-blocking request may take, and how much longer than
// its own timeout a GET/WAIT may take, before the client gives the server up
// (the server answers a GET/WAIT at its deadline, so this only catches a dead host).
constexpr milliseconds kReplyWithin{30'000};
constexpr milliseconds kReplyGrace{5'000};
constexpr milliseconds kConnectRetryEvery{100};

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

std::string errno_text(int err) { return std::strerror(err); }

void set_no_delay(int fd) {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

// Milliseconds until `deadline`, rounded up, for poll(); 0 when past.
int poll_ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

// getaddrinfo for `where`; nullptr and `why` on failure.
using AddrList = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;
AddrList resolve(const HostPort& where, bool passive, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* found = nullptr;
  const std::string port = std::to_string(where.port);
  const char* host = where.host.empty() ? nullptr : where.host.c_str();
  const int rc = ::getaddrinfo(host, port.c_str(), &hints, &found);
  if (rc != 0) {
    why = "cannot resolve '" + where.host + "': " + ::gai_strerror(rc);
    return AddrList(nullptr, ::freeaddrinfo);
  }
  return AddrList(found, ::freeaddrinfo);
}

// The numeric address of a socket name ("127.0.0.1", "::1").
std::string numeric_address(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------
// Server

namespace {

// A GET or WAIT parked on the server until its keys exist or its deadline.
struct ParkedRequest {
  Op op = Op::Wait;
  std::vector<std::string> keys;
  Clock::time_point deadline;
};

struct Connection {
  Fd socket;
  std::string input;   // bytes received, not yet a whole frame
  std::string output;  // reply bytes the socket did not take yet
  std::optional<ParkedRequest> parked;
  bool closed = false;
};

}  // namespace

struct TcpStoreServer::Impl {
  HostPort requested;
  int port = 0;
  Fd listener;
  Fd wake;  // eventfd: the destructor writes it to end poll()
  std::atomic<bool> stopping{false};
  std::thread thread;
  // Touched only by the server thread once it runs.
  std::map<std::string, std::string> values;
  std::vector<std::unique_ptr<Connection>> connections;

  Impl(const std::string& host, int requested_port) : requested{host, requested_port} {
    TRT_CHECK(requested_port >= 0 && requested_port <= 65535, "cannot host the rendezvous store on ",
              where_text(), ": port must be from 0 (any free port) to 65535");
    listener = bind_and_listen();
    wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    TRT_CHECK(wake, "cannot host the rendezvous store on ", where_text(), ": eventfd: ", errno_text(errno));
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    stopping = true;
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake.get(), &one, sizeof one);
    if (thread.joinable()) thread.join();
  }

  std::string where_text() const {
    return detail::format_host_port({requested.host.empty() ? "*" : requested.host, requested.port});
  }

  [[noreturn]] void fail_to_host(int err) const {
    if (err == EADDRINUSE) {
      fail("cannot host the rendezvous store on " + where_text() +
           ": address already in use; another job may hold it: choose another --master-port");
    }
    fail("cannot host the rendezvous store on " + where_text() + ": " + errno_text(err));
  }

  // The first address of the host that binds; a port in use fails at once rather
  // than falling through to another address family.
  Fd bind_and_listen() {
    std::string why;
    AddrList addresses = resolve(requested, /*passive=*/true, why);
    TRT_CHECK(addresses, "cannot host the rendezvous store on ", where_text(), ": ", why);
    int last_error = EADDRNOTAVAIL;
    for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
      Fd socket(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
      if (!socket) {
        last_error = errno;
        continue;
      }
      const int on = 1;
      ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (::bind(socket.get(), a->ai_addr, a->ai_addrlen) != 0) {
        last_error = errno;
        if (last_error == EADDRINUSE) break;
        continue;
      }
      if (::listen(socket.get(), SOMAXCONN) != 0) fail_to_host(errno);
      port = bound_port(socket.get());
      return socket;
    }
    fail_to_host(last_error);
  }

  static int bound_port(int fd) {
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port);
  }

  void run() {
    try {
      while (!stopping) poll_once();
    } catch (const std::exception& e) {
      log(LogLevel::Error, "rendezvous store server on " + where_text() + " stopped: " + e.what());
    }
    connections.clear();  // closes every client socket: waiting clients see the end at once
  }

  void poll_once() {
    std::vector<pollfd> fds;
    fds.push_back({wake.get(), POLLIN, 0});
    fds.push_back({listener.get(), POLLIN, 0});
    for (const auto& c : connections) {
      const short events = static_cast<short>(POLLIN | (c->output.empty() ? 0 : POLLOUT));
      fds.push_back({c->socket.get(), events, 0});
    }
    if (::poll(fds.data(), fds.size(), next_poll_timeout_ms()) < 0) {
      if (errno == EINTR) return;
      fail("poll: " + errno_text(errno));
    }
    if (fds[0].revents != 0) drain_wake();
    const size_t polled = connections.size();  // accept_clients appends after these
    if (fds[1].revents & POLLIN) accept_clients();
    for (size_t i = 0; i < polled; ++i) {
      Connection& c = *connections[i];
      const short revents = fds[i + 2].revents;
      if (revents & (POLLIN | POLLHUP | POLLERR)) receive(c);
      if (revents & POLLOUT) flush(c);
    }
    serve_buffered_requests();
    expire_parked_requests();
    std::erase_if(connections, [](const auto& c) { return c->closed; });
  }

  int next_poll_timeout_ms() const {
    int timeout = -1;
    for (const auto& c : connections) {
      if (!c->parked) continue;
      const int ms = poll_ms_until(c->parked->deadline);
      timeout = timeout < 0 ? ms : std::min(timeout, ms);
    }
    return timeout;
  }

  void drain_wake() {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t got = ::read(wake.get(), &count, sizeof count);
  }

  void accept_clients() {
    while (true) {
      const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          log(LogLevel::Warn, "rendezvous store server on " + where_text() + ": accept: " + errno_text(errno));
        }
        return;
      }
      set_no_delay(fd);
      auto connection = std::make_unique<Connection>();
      connection->socket = Fd(fd);
      connections.push_back(std::move(connection));
    }
  }

  static void receive(Connection& c) {
    char buffer[64 * 1024];
    while (!c.closed) {
      const ssize_t got = ::recv(c.socket.get(), buffer, sizeof buffer, 0);
      if (got > 0) {
        c.input.append(buffer, static_cast<size_t>(got));
      } else if (got == 0) {
        c.closed = true;  // the client left, perhaps in the middle of a WAIT
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.closed = true;
        return;
      }
    }
  }

  static void flush(Connection& c) {
    while (!c.closed && !c.output.empty()) {
      const ssize_t sent = ::send(c.socket.get(), c.output.data(), c.output.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        c.output.erase(0, static_cast<size_t>(sent));
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else {
        if (sent == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.closed = true;
        return;
      }
    }
  }

  static void reply(Connection& c, Status status, int64_t number = 0, std::vector<std::string> strings = {}) {
    c.output += tcp_protocol::encode({static_cast<uint8_t>(status), number, std::move(strings)});
    flush(c);
  }

  // Runs buffered requests until every connection is parked or out of whole
  // frames (a parked request that completes lets its connection go on).
  void serve_buffered_requests() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (const auto& c : connections) {
        if (c->closed || c->parked) continue;
        try {
          std::optional<Message> request = tcp_protocol::take_frame(c->input);
          if (!request) continue;
          handle(*c, *request);
          progress = true;
        } catch (const ProtocolError& e) {
          log(LogLevel::Warn, "rendezvous store server on " + where_text() +
                                  ": dropping a client that sent a malformed request (" + e.what() + ")");
          c->closed = true;
        }
      }
    }
  }

  std::vector<std::string> missing(const std::vector<std::string>& keys) const {
    std::vector<std::string> absent;
    for (const std::string& key : keys)
      if (!values.count(key)) absent.push_back(key);
    return absent;
  }

  void handle(Connection& c, Message& request) {
    const auto op = static_cast<Op>(request.code);
    std::vector<std::string>& args = request.strings;
    const bool one_key = args.size() == 1;
    switch (op) {
      case Op::Set:
        if (args.size() != 2) break;
        values[args[0]] = std::move(args[1]);
        reply(c, Status::Ok);
        answer_satisfied_requests();
        return;
      case Op::Add: {
        if (!one_key) break;
        std::string& value = values[args[0]];
        const std::optional<int64_t> current = detail::parse_counter(value);
        if (!current) {
          reply(c, Status::Error, 0, {detail::not_a_counter_message(args[0], value)});
          return;
        }
        value = std::to_string(*current + request.number);
        reply(c, Status::Ok, *current + request.number);
        answer_satisfied_requests();
        return;
      }
      case Op::Check:
        reply(c, Status::Ok, missing(args).empty() ? 1 : 0);
        return;
      case Op::Delete:
        if (!one_key) break;
        reply(c, Status::Ok, values.erase(args[0]) > 0 ? 1 : 0);
        return;
      case Op::Get:
      case Op::Wait:
        if (op == Op::Get && !one_key) break;
        park_or_answer(c, {op, std::move(args), detail::deadline_after(milliseconds(request.number))},
                       request.number <= 0);
        return;
    }
    reply(c, Status::Error, 0,
          {std::string("malformed ") + tcp_protocol::op_name(request.code) + " request (code " +
           std::to_string(request.code) + ", " + std::to_string(args.size()) +
           " strings); is the client another trainrt version?"});
  }

  void park_or_answer(Connection& c, ParkedRequest request, bool expired) {
    c.parked = std::move(request);
    if (!try_answer(c) && expired) answer_timeout(c);
  }

  // Answers c's parked request if its keys all exist.
  bool try_answer(Connection& c) {
    if (!missing(c.parked->keys).empty()) return false;
    const bool get = c.parked->op == Op::Get;
    const std::string value = get ? values.at(c.parked->keys.front()) : std::string();
    c.parked.reset();
    if (get) {
      reply(c, Status::Ok, 0, {value});
    } else {
      reply(c, Status::Ok);
    }
    return true;
  }

  void answer_timeout(Connection& c) {
    std::vector<std::string> absent = missing(c.parked->keys);
    c.parked.reset();
    reply(c, Status::Timeout, 0, std::move(absent));
  }

  void answer_satisfied_requests() {
    for (const auto& c : connections)
      if (!c->closed && c->parked) try_answer(*c);
  }

  void expire_parked_requests() {
    const Clock::time_point now = Clock::now();
    for (const auto& c : connections)
      if (!c->closed && c->parked && c->parked->deadline <= now) answer_timeout(*c);
  }
};

TcpStoreServer::TcpStoreServer(const std::string& host, int port) : impl_(std::make_unique<Impl>(host, port)) {}
TcpStoreServer::~TcpStoreServer() = default;
int TcpStoreServer::port() const { return impl_->port; }

// ---------------------------------------------------------------------------
// Client

namespace {

// One non-blocking connect to each address of `where`, each bounded by
// `deadline` (at least 100 ms); the connected socket, or none and `why`.
Fd connect_once(const HostPort& where, Clock::time_point deadline, std::string& why) {
  AddrList addresses = resolve(where, /*passive=*/false, why);
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Fd socket(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!socket) {
      why = errno_text(errno);
      continue;
    }
    if (::connect(socket.get(), a->ai_addr, a->ai_addrlen) == 0) return socket;
    if (errno != EINPROGRESS) {
      why = errno_text(errno);
      continue;
    }
    pollfd writable{socket.get(), POLLOUT, 0};
    const int ready = ::poll(&writable, 1, std::max(poll_ms_until(deadline), 100));
    if (ready <= 0) {
      why = ready == 0 ? "connection timed out" : errno_text(errno);
      continue;
    }
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    if (error == 0) return socket;
    why = errno_text(error);
  }
  return Fd();
}

// "GET 'key'", "WAIT for a, b": what a request was, for messages.
std::string request_text(Op op, const std::vector<std::string>& keys) {
  std::string text = tcp_protocol::op_name(static_cast<uint8_t>(op));
  if (op == Op::Wait || op == Op::Check) return text + " for " + detail::join_keys(keys);
  return keys.empty() ? text : text + " '" + keys.front() + "'";
}

class TcpStore final : public Store {
 public:
  TcpStore(const HostPort& where, milliseconds connect_timeout)
      : describe_("tcp://" + detail::format_host_port(where)) {
    const Clock::time_point deadline = detail::deadline_after(connect_timeout);
    std::string why = "not tried";
    while (!(socket_ = connect_once(where, deadline, why))) {
      const Clock::time_point now = Clock::now();
      if (now >= deadline) throw Error(detail::unreachable_message(describe_, connect_timeout, why));
      std::this_thread::sleep_until(std::min(now + kConnectRetryEvery, deadline));
    }
    set_no_delay(socket_.get());
    local_address_ = local_address_of(socket_.get());
  }

  void set(const std::string& key, const std::string& value) override { request(Op::Set, 0, {key, value}); }

  std::string get(const std::string& key, milliseconds timeout) override {
    Message reply = request(Op::Get, timeout.count(), {key}, timeout);
    if (reply.code == static_cast<uint8_t>(Status::Timeout)) detail::throw_timeout(describe_, timeout, {key});
    TRT_CHECK(reply.strings.size() == 1, "rendezvous store ", describe_, ": malformed reply to GET '", key, "'");
    return std::move(reply.strings.front());
  }

  int64_t add(const std::string& key, int64_t delta) override {
    return request(Op::Add, delta, {key}).number;
  }

  bool check(const std::vector<std::string>& keys) override {
    return request(Op::Check, 0, keys).number != 0;
  }

  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    Message reply = request(Op::Wait, timeout.count(), keys, timeout);
    if (reply.code == static_cast<uint8_t>(Status::Timeout)) detail::throw_timeout(describe_, timeout, reply.strings);
  }

  bool remove(const std::string& key) override { return request(Op::Delete, 0, {key}).number != 0; }

  std::string describe() const override { return describe_; }
  std::string local_address() const override { return local_address_; }

 private:
  static std::string local_address_of(int fd) {
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return "";
    return numeric_address(address);
  }

  // Sends one request and reads its reply (Ok or Timeout; an Error reply
  // throws). `server_wait` is how long the server may park it (GET, WAIT); the
  // client allows kReplyGrace beyond that. A connection that failed once stays failed.
  Message request(Op op, int64_t number, std::vector<std::string> strings, milliseconds server_wait = {}) {
    std::lock_guard lock(mutex_);
    const std::string what = request_text(op, strings);
    TRT_CHECK(lost_.empty(), "rendezvous store ", describe_, ": cannot send ", what,
              ": the connection was lost earlier (", lost_, ")");
    const milliseconds grace = server_wait.count() > 0 ? kReplyGrace : kReplyWithin;
    const Clock::time_point deadline = detail::deadline_after(server_wait) + grace;
    send_all(tcp_protocol::encode({static_cast<uint8_t>(op), number, std::move(strings)}), deadline, what);
    Message reply = read_reply(deadline, what);
    if (reply.code == static_cast<uint8_t>(Status::Error)) {
      fail("rendezvous store " + describe_ + ": " + (reply.strings.empty() ? what + " failed" : reply.strings[0]));
    }
    return reply;
  }

  void send_all(const std::string& frame, Clock::time_point deadline, const std::string& what) {
    size_t offset = 0;
    while (offset < frame.size()) {
      const ssize_t sent = ::send(socket_.get(), frame.data() + offset, frame.size() - offset, MSG_NOSIGNAL);
      if (sent > 0) {
        offset += static_cast<size_t>(sent);
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd writable{socket_.get(), POLLOUT, 0};
        if (::poll(&writable, 1, poll_ms_until(deadline)) == 0) lose("did not take " + what + " in time");
      } else if (!(sent < 0 && errno == EINTR)) {
        lose_closed(what, sent < 0 ? errno_text(errno) : "connection closed");
      }
    }
  }

  Message read_reply(Clock::time_point deadline, const std::string& what) {
    char buffer[64 * 1024];
    while (true) {
      try {
        if (std::optional<Message> reply = tcp_protocol::take_frame(input_)) return std::move(*reply);
      } catch (const ProtocolError& e) {
        lose(std::string("sent a malformed reply to ") + what + " (" + e.what() + ")");
      }
      pollfd readable{socket_.get(), POLLIN, 0};
      const int ready = ::poll(&readable, 1, poll_ms_until(deadline));
      if (ready == 0 && Clock::now() >= deadline) {
        lose("did not answer " + what + " in time; the host serving it may be down or unreachable");
      }
      if (ready < 0 && errno != EINTR) lose_closed(what, errno_text(errno));
      if (ready <= 0) continue;  // EINTR, or the clamped poll timeout ran out early
      const ssize_t got = ::recv(socket_.get(), buffer, sizeof buffer, 0);
      if (got > 0) {
        input_.append(buffer, static_cast<size_t>(got));
      } else if (got == 0) {
        lose_closed(what, "connection closed");
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        lose_closed(what, errno_text(errno));
      }
    }
  }

  [[noreturn]] void lose_closed(const std::string& what, const std::string& why) {
    lose("closed the connection during " + what + " (" + why +
         "); the process hosting it (the launcher on node 0, or rank 0) has probably exited: see its log");
  }

  // Closes the connection for good and throws Error("rendezvous store D <why>").
  [[noreturn]] void lose(const std::string& why) {
    socket_.reset();
    input_.clear();
    lost_ = describe_ + " " + why;
    fail("rendezvous store " + lost_);
  }

  const std::string describe_;
  std::string local_address_;
  std::mutex mutex_;  // one request at a time: a heartbeat thread may share this client
  Fd socket_;
  std::string input_;  // reply bytes received, not yet a whole frame
  std::string lost_;   // why the connection ended, once it has
};

}  // namespace

namespace detail {

std::shared_ptr<Store> make_tcp_store(const HostPort& where, milliseconds connect_timeout) {
  return std::make_shared<TcpStore>(where, connect_timeout);
}

}  // namespace detail

}  // namespace trainrt::dist
