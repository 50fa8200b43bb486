// The rendezvous stores: first the contract every transport keeps (memory,
// prefix, tcp, file, redis through the same Store calls), then what belongs to
// one transport (the TCP server's life and errors, the file store across
// processes, a real redis-server) and open_store's URL errors. Timeouts here are
// short (0.3-1 s) so the suite stays fast; no test needs the network.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "dist/tcp_store_protocol.h"
#include "dist/test_servers.h"
#include "trainrt/dist/store.h"

namespace trainrt::dist {
namespace {

using namespace std::chrono_literals;
using test::free_port;
using test::RedisServer;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The message of the exception of type E that fn throws ("" and a failure if none).
template <class E = Error, class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception, none was thrown";
  return "";
}

std::string tcp_url(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "trainrt-store-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `child` in a forked process; its return value is the exit status.
pid_t fork_child(const std::function<int()>& child) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int status = 1;
    try {
      status = child();
    } catch (...) {
      status = 2;
    }
    ::_exit(status);
  }
  return pid;
}

int exit_status_of(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A plain TCP connection to 127.0.0.1:port, to speak a protocol by hand.
int raw_connection(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

// ---------------------------------------------------------------------------
// The contract: one store transport behind the common interface.

// Owns whatever a transport needs (a server, a directory) and hands out clients
// of one and the same store.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::shared_ptr<Store> connect() = 0;
};

class MemoryBackend : public Backend {
 public:
  std::shared_ptr<Store> connect() override { return store_; }

 private:
  std::shared_ptr<Store> store_ = make_memory_store();
};

class PrefixBackend : public Backend {
 public:
  std::shared_ptr<Store> connect() override { return make_prefix_store("job7/", base_); }

 private:
  std::shared_ptr<Store> base_ = make_memory_store();
};

class TcpBackend : public Backend {
 public:
  std::shared_ptr<Store> connect() override { return open_store(tcp_url(server_.port()), 5s); }

 private:
  TcpStoreServer server_{"127.0.0.1", 0};
};

class FileBackend : public Backend {
 public:
  std::shared_ptr<Store> connect() override { return open_store("file://" + dir_.path() + "/rdzv", 1s); }

 private:
  TempDir dir_;
};

class RedisBackend : public Backend {
 public:
  explicit RedisBackend(const std::string& binary) : server_(binary) {}
  std::shared_ptr<Store> connect() override { return open_store(server_.url(), 5s); }

 private:
  RedisServer server_;
};

enum class Transport { Memory, Prefix, Tcp, File, Redis };

std::string transport_name(Transport t) {
  switch (t) {
    case Transport::Memory: return "memory";
    case Transport::Prefix: return "prefix";
    case Transport::Tcp: return "tcp";
    case Transport::File: return "file";
    case Transport::Redis: return "redis";
  }
  return "?";
}

void PrintTo(Transport t, std::ostream* out) { *out << transport_name(t); }

class StoreContract : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Transport::Memory: backend_ = std::make_unique<MemoryBackend>(); break;
      case Transport::Prefix: backend_ = std::make_unique<PrefixBackend>(); break;
      case Transport::Tcp: backend_ = std::make_unique<TcpBackend>(); break;
      case Transport::File: backend_ = std::make_unique<FileBackend>(); break;
      case Transport::Redis: {
        std::optional<std::string> binary;
        REQUIRE_REDIS_SERVER(binary);
        backend_ = std::make_unique<RedisBackend>(*binary);
        break;
      }
    }
    store_ = backend_->connect();
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<Store> store_;
};

TEST_P(StoreContract, RoundTripsBinaryValuesAndKeysWithSlashes) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  const std::string with_nuls("a\0b\0\0c", 6);
  store_->set("group/0/addr", with_nuls);
  store_->set("bytes", every_byte);
  store_->set("empty", "");
  EXPECT_EQ(store_->get("group/0/addr", 1s), with_nuls);
  EXPECT_EQ(store_->get("bytes", 1s), every_byte);
  EXPECT_EQ(store_->get("empty", 1s), "");
  EXPECT_EQ(backend_->connect()->get("group/0/addr", 1s), with_nuls) << "another client sees the value";
}

TEST_P(StoreContract, SetOverwrites) {
  store_->set("k", "first");
  store_->set("k", "second");
  EXPECT_EQ(store_->get("k", 1s), "second");
}

TEST_P(StoreContract, AddFromManyThreadsSumsExactlyAndEachResultIsUnique) {
  constexpr int kThreads = 8, kAddsEach = 25;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t, client = backend_->connect()] {
      for (int i = 0; i < kAddsEach; ++i) seen[t].push_back(client->add("counter", 1));
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<int64_t> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < kThreads * kAddsEach; ++i) ASSERT_EQ(all[i], i + 1) << "two adds returned the same total";
  EXPECT_EQ(store_->add("counter", -5), kThreads * kAddsEach - 5);
  EXPECT_EQ(store_->get("counter", 1s), std::to_string(kThreads * kAddsEach - 5)) << "add keeps decimal text";
}

TEST_P(StoreContract, AddOnAValueThatIsNotANumberNamesTheKey) {
  store_->set("name", "alice");
  const std::string message = message_of([&] { store_->add("name", 1); });
  EXPECT_NE(message.find("name'"), std::string::npos) << message;
  EXPECT_NE(message.find("rendezvous store"), std::string::npos) << message;
}

TEST_P(StoreContract, CheckIsTrueOnlyWhenEveryKeyExists) {
  EXPECT_FALSE(store_->check({"a"}));
  store_->set("a", "1");
  EXPECT_TRUE(store_->check({"a"}));
  EXPECT_FALSE(store_->check({"a", "b"}));
  store_->add("b", 0);
  EXPECT_TRUE(store_->check({"a", "b"}));
}

TEST_P(StoreContract, WaitAndGetReturnOnceAnotherClientSets) {
  std::thread setter([client = backend_->connect()] {
    std::this_thread::sleep_for(150ms);
    client->set("x", "1");
    client->set("late", "value");
    client->add("y", 2);
  });
  const Clock::time_point start = Clock::now();
  store_->wait({"x", "y"}, 5s);
  EXPECT_EQ(store_->get("late", 5s), "value");
  setter.join();
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST_P(StoreContract, GetTimesOutNamingTheKey) {
  const Clock::time_point start = Clock::now();
  const std::string message = message_of<StoreTimeout>([&] { store_->get("never/set", 300ms); });
  const double elapsed = seconds_since(start);
  EXPECT_NE(message.find("timed out after 0.3 s waiting for keys: "), std::string::npos) << message;
  EXPECT_NE(message.find("never/set"), std::string::npos) << message;
  EXPECT_NE(message.find(store_->describe()), std::string::npos) << message;
  EXPECT_GE(elapsed, 0.25);
  EXPECT_LT(elapsed, 0.3 + 2.0);
}

TEST_P(StoreContract, WaitTimesOutListingOnlyTheMissingKeys) {
  store_->set("here", "1");
  const Clock::time_point start = Clock::now();
  const std::string message = message_of<StoreTimeout>([&] { store_->wait({"here", "gone1", "gone2"}, 300ms); });
  const double elapsed = seconds_since(start);
  EXPECT_NE(message.find("gone1, "), std::string::npos) << message;
  EXPECT_NE(message.find("gone2"), std::string::npos) << message;
  EXPECT_EQ(message.find("here"), std::string::npos) << message;
  EXPECT_GE(elapsed, 0.25);
  EXPECT_LT(elapsed, 0.3 + 2.0);
}

TEST_P(StoreContract, RemoveDeletesAndSaysWhetherTheKeyExisted) {
  EXPECT_FALSE(store_->remove("k"));
  store_->set("k", "v");
  EXPECT_TRUE(store_->remove("k"));
  EXPECT_FALSE(store_->check({"k"}));
  EXPECT_THROW(store_->get("k", 0ms), StoreTimeout);
  EXPECT_EQ(store_->add("k", 3), 3) << "a removed counter starts again from 0";
}

TEST_P(StoreContract, DescribeNamesTheTransport) {
  const std::string scheme = GetParam() == Transport::Memory || GetParam() == Transport::Prefix
                                 ? "memory://"
                                 : transport_name(GetParam()) + "://";
  EXPECT_EQ(store_->describe().rfind(scheme, 0), 0u) << store_->describe();
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract,
                         ::testing::Values(Transport::Memory, Transport::Prefix, Transport::Tcp, Transport::File,
                                           Transport::Redis),
                         [](const auto& info) { return transport_name(info.param); });

// ---------------------------------------------------------------------------
// Prefix store

TEST(PrefixStore, PrependsThePrefixToEveryKeyOfTheBase) {
  auto base = make_memory_store();
  auto store = make_prefix_store("restart1/", base);
  store->set("a", "1");
  store->add("n", 4);
  EXPECT_EQ(base->get("restart1/a", 0ms), "1");
  EXPECT_EQ(base->get("restart1/n", 0ms), "4");
  EXPECT_FALSE(base->check({"a"}));
  EXPECT_TRUE(store->check({"a", "n"}));
  base->set("restart1/b", "2");
  store->wait({"b"}, 0ms);
  EXPECT_TRUE(store->remove("a"));
  EXPECT_FALSE(base->check({"restart1/a"}));
  EXPECT_EQ(store->describe(), base->describe());
  const std::string message = message_of<StoreTimeout>([&] { store->wait({"c"}, 0ms); });
  EXPECT_NE(message.find("restart1/c"), std::string::npos) << "timeouts name the full key: " << message;
}

TEST(PrefixStore, NestsForProcessGroupsInsideRestarts) {
  auto base = make_memory_store();
  auto group = make_prefix_store("pg0/", make_prefix_store("restart0/", base));
  group->set("rank1", "addr");
  EXPECT_EQ(base->get("restart0/pg0/rank1", 0ms), "addr");
}

// ---------------------------------------------------------------------------
// TCP store

TEST(TcpStore, PortZeroPicksARealPortAndClientsReportTheirAddress) {
  TcpStoreServer server("127.0.0.1", 0);
  EXPECT_GT(server.port(), 0);
  auto store = open_store(tcp_url(server.port()), 2s);
  EXPECT_EQ(store->describe(), tcp_url(server.port()));
  EXPECT_EQ(store->local_address(), "127.0.0.1");
  EXPECT_EQ(make_memory_store()->local_address(), "");
}

TEST(TcpStore, SecondServerOnTheSamePortSaysAddressInUse) {
  TcpStoreServer first("127.0.0.1", 0);
  const std::string port = std::to_string(first.port());
  EXPECT_EQ(message_of([&] { TcpStoreServer second("127.0.0.1", first.port()); }),
            "cannot host the rendezvous store on 127.0.0.1:" + port +
                ": address already in use; another job may hold it: choose another --master-port");
}

TEST(TcpStore, ServerThatCannotBindGivesTheSystemsReason) {
  const std::string message = message_of([] { TcpStoreServer server("192.0.2.1", 0); });  // not our address
  EXPECT_EQ(message.rfind("cannot host the rendezvous store on 192.0.2.1:0: ", 0), 0u) << message;
  EXPECT_NE(message.find("address"), std::string::npos) << message;
}

TEST(TcpStore, ClientStartedBeforeTheServerConnectsWhenItAppears) {
  const int port = free_port();
  std::shared_ptr<Store> client;
  std::thread connecting([&] { client = open_store(tcp_url(port), 5s); });
  std::this_thread::sleep_for(400ms);
  TcpStoreServer server("127.0.0.1", port);
  connecting.join();
  ASSERT_NE(client, nullptr);
  client->set("k", "v");
  EXPECT_EQ(client->get("k", 1s), "v");
}

TEST(TcpStore, UnreachableServerFailsAfterTheConnectTimeout) {
  const int port = free_port();
  const Clock::time_point start = Clock::now();
  const std::string message = message_of([&] { open_store(tcp_url(port), 1s); });
  const double elapsed = seconds_since(start);
  EXPECT_EQ(message, "cannot reach the rendezvous store at " + tcp_url(port) +
                         " after 1 s: Connection refused; is the launcher on node 0 (or rank 0) running, and are "
                         "MASTER_ADDR/MASTER_PORT right?");
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 2.5);
}

TEST(TcpStore, TimeoutComesBackFromTheServerAsStoreTimeout) {
  TcpStoreServer server("127.0.0.1", 0);
  auto store = open_store(tcp_url(server.port()), 2s);
  EXPECT_EQ(message_of<StoreTimeout>([&] { store->wait({"a", "b"}, 300ms); }),
            "rendezvous store " + tcp_url(server.port()) + ": timed out after 0.3 s waiting for keys: a, b");
  store->set("after", "1");  // the connection is still in step: no stale reply is read
  EXPECT_EQ(store->get("after", 1s), "1");
}

TEST(TcpStore, ServerDestroyedWhileAClientWaitsFailsTheClientPromptly) {
  auto server = std::make_unique<TcpStoreServer>("127.0.0.1", 0);
  const std::string url = tcp_url(server->port());
  auto store = open_store(url, 2s);
  std::string message;
  bool was_timeout = false;
  Clock::time_point failed_at;
  std::thread waiter([&] {
    try {
      store->get("never", 20s);
    } catch (const StoreTimeout& e) {
      was_timeout = true;
    } catch (const Error& e) {
      message = e.what();
    }
    failed_at = Clock::now();
  });
  std::this_thread::sleep_for(200ms);
  const Clock::time_point destroyed_at = Clock::now();
  server.reset();
  waiter.join();
  EXPECT_FALSE(was_timeout);
  EXPECT_LT(std::chrono::duration<double>(failed_at - destroyed_at).count(), 2.0);
  EXPECT_EQ(message.rfind("rendezvous store " + url + " closed the connection during GET 'never'", 0), 0u) << message;
  EXPECT_NE(message_of([&] { store->set("k", "v"); }).find("the connection was lost earlier"), std::string::npos);
}

TEST(TcpStore, ManyClientsOnThreadsShareOneServer) {
  TcpStoreServer server("127.0.0.1", 0);
  constexpr int kClients = 16, kAddsEach = 50;
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = open_store(tcp_url(server.port()), 2s);
      client->set("rank/" + std::to_string(c), std::to_string(c));
      for (int i = 0; i < kAddsEach; ++i) client->add("total", 1);
      client->wait({"rank/0", "rank/" + std::to_string(kClients - 1)}, 5s);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(open_store(tcp_url(server.port()), 2s)->add("total", 0), kClients * kAddsEach);
}

TEST(TcpStore, OneClientSharedByThreadsKeepsRequestsApart) {
  TcpStoreServer server("127.0.0.1", 0);
  auto store = open_store(tcp_url(server.port()), 2s);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "t" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        store->set(key, key + "=" + std::to_string(i));
        ASSERT_EQ(store->get(key, 1s), key + "=" + std::to_string(i));
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST(TcpStore, ClientInAnotherProcessAddsAndSets) {
  TcpStoreServer server("127.0.0.1", 0);
  const std::string url = tcp_url(server.port());
  const pid_t child = fork_child([&] {
    auto store = open_store(url, 2s);
    store->wait({"go"}, 5s);
    for (int i = 0; i < 20; ++i) store->add("n", 1);
    store->set("child/done", "yes");
    return 0;
  });
  auto store = open_store(url, 2s);
  store->set("go", "");
  for (int i = 0; i < 20; ++i) store->add("n", 1);
  EXPECT_EQ(store->get("child/done", 5s), "yes");
  EXPECT_EQ(exit_status_of(child), 0);
  EXPECT_EQ(store->add("n", 0), 40);
}

TEST(TcpStore, ServerOutlivesClientsThatLeaveMidWaitOrSendGarbage) {
  TcpStoreServer server("127.0.0.1", 0);
  auto store = open_store(tcp_url(server.port()), 2s);

  const int leaves = raw_connection(server.port());
  const std::string wait = tcp_protocol::encode(
      {static_cast<uint8_t>(tcp_protocol::Op::Wait), 10'000, {"a-key-that-never-comes"}});
  ASSERT_EQ(::send(leaves, wait.data(), wait.size(), 0), static_cast<ssize_t>(wait.size()));
  std::this_thread::sleep_for(50ms);
  ::close(leaves);  // parked on the server, then gone

  const int garbage = raw_connection(server.port());
  const std::string huge_frame = "\xff\xff\xff\xff junk";
  ASSERT_GT(::send(garbage, huge_frame.data(), huge_frame.size(), 0), 0);
  char byte = 0;
  EXPECT_EQ(::recv(garbage, &byte, 1, 0), 0) << "the server drops a client that sends a malformed frame";
  ::close(garbage);

  store->set("still", "serving");
  EXPECT_EQ(store->get("still", 1s), "serving");
}

TEST(TcpStore, ServesIpv6WhenTheHostHasIt) {
  std::unique_ptr<TcpStoreServer> server;
  try {
    server = std::make_unique<TcpStoreServer>("::1", 0);
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  auto store = open_store("tcp://[::1]:" + std::to_string(server->port()), 2s);
  store->set("k", "v6");
  EXPECT_EQ(store->get("k", 1s), "v6");
  EXPECT_EQ(store->local_address(), "::1");
  EXPECT_EQ(store->describe(), "tcp://[::1]:" + std::to_string(server->port()));
}

// ---------------------------------------------------------------------------
// File store

TEST(FileStore, AddAndWaitWorkAcrossProcesses) {
  TempDir dir;
  const std::string url = "file://" + dir.path();
  const pid_t child = fork_child([&] {
    auto store = open_store(url, 1s);
    store->wait({"go"}, 5s);
    for (int i = 0; i < 25; ++i) store->add("n", 1);
    store->set("child/done", "yes");
    return store->get("parent/done", 5s) == "yes" ? 0 : 3;
  });
  auto store = open_store(url, 1s);
  store->set("go", "");
  for (int i = 0; i < 25; ++i) store->add("n", 1);
  store->set("parent/done", "yes");
  store->wait({"child/done"}, 5s);
  EXPECT_EQ(exit_status_of(child), 0);
  EXPECT_EQ(store->add("n", 0), 50);
}

TEST(FileStore, KeysStayInsideTheDirectoryWhateverTheyContain) {
  TempDir dir;
  auto store = open_store("file://" + dir.path() + "/made/on/demand", 1s);
  const std::vector<std::string> keys = {"../escape", "a/b", "", ".lock", "%41", std::string(300, 'x')};
  for (const std::string& key : keys) store->set(key, "v:" + key);
  for (const std::string& key : keys) EXPECT_EQ(store->get(key, 0ms), "v:" + key) << key;
  EXPECT_NE(store->get("%41", 0ms), store->get("", 0ms));
  size_t outside = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path()))
    if (entry.is_regular_file() && entry.path().parent_path() != dir.path() + "/made/on/demand") ++outside;
  EXPECT_EQ(outside, 0u);
  EXPECT_EQ(store->describe(), "file://" + dir.path() + "/made/on/demand");
}

TEST(FileStore, UnwritableDirectoryIsAnError) {
  const std::string message = message_of([] { open_store("file:///proc/trainrt-cannot-be-here", 1s); });
  EXPECT_NE(message.find("rendezvous store file:///proc/trainrt-cannot-be-here: cannot create the directory"),
            std::string::npos)
      << message;
}

// ---------------------------------------------------------------------------
// Redis store (beyond the contract above)

// One command to Redis in its own protocol (RESP), bypassing the store; the first reply line.
std::string raw_redis_command(int port, const std::vector<std::string>& args) {
  std::string request = "*";
  request.append(std::to_string(args.size())).append("\r\n");
  for (const std::string& arg : args) request.append("$").append(std::to_string(arg.size())).append("\r\n" + arg + "\r\n");
  const int fd = raw_connection(port);
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string reply;
  char c = 0;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') reply.push_back(c);
  ::close(fd);
  if (!reply.empty() && reply.back() == '\r') reply.pop_back();
  return reply;
}

TEST(RedisStore, KeysLiveUnderTheTrainrtNamespace) {
  std::optional<std::string> binary;
  REQUIRE_REDIS_SERVER(binary);
  RedisServer server(*binary);
  auto store = open_store(server.url(), 5s);
  store->set("k", "v");
  EXPECT_EQ(raw_redis_command(server.port(), {"EXISTS", "trainrt/k"}), ":1");
  EXPECT_EQ(raw_redis_command(server.port(), {"EXISTS", "k"}), ":0");
  EXPECT_EQ(store->local_address(), "") << "only the TCP store reports a local address";
}

TEST(RedisStore, UnreachableServerFailsAfterTheConnectTimeout) {
  const int port = free_port();
  const Clock::time_point start = Clock::now();
  const std::string message = message_of([&] { open_store("redis://127.0.0.1:" + std::to_string(port), 1s); });
  EXPECT_EQ(message.rfind("cannot reach the rendezvous store at redis://127.0.0.1:" + std::to_string(port) +
                              " after 1 s: Connection refused; ",
                          0),
            0u)
      << message;
  EXPECT_LT(seconds_since(start), 2.5);
}

// ---------------------------------------------------------------------------
// open_store

TEST(OpenStore, UnknownSchemeNamesTheThreeThatExist) {
  EXPECT_EQ(message_of([] { open_store("http://x:1", 1s); }),
            "unknown rendezvous store 'http://x:1': use tcp://HOST:PORT, file:///DIR or redis://HOST:PORT");
  EXPECT_EQ(message_of([] { open_store("localhost:29500", 1s); }),
            "unknown rendezvous store 'localhost:29500': use tcp://HOST:PORT, file:///DIR or redis://HOST:PORT");
}

TEST(OpenStore, BadPortsAndHostsAreNamed) {
  EXPECT_EQ(message_of([] { open_store("tcp://host:abc", 1s); }),
            "rendezvous store 'tcp://host:abc': port 'abc' is not a number from 1 to 65535");
  EXPECT_EQ(message_of([] { open_store("tcp://host:70000", 1s); }),
            "rendezvous store 'tcp://host:70000': port '70000' is not a number from 1 to 65535");
  EXPECT_EQ(message_of([] { open_store("redis://host:0", 1s); }),
            "rendezvous store 'redis://host:0': port '0' is not a number from 1 to 65535");
  EXPECT_EQ(message_of([] { open_store("tcp://host", 1s); }), "rendezvous store 'tcp://host': no port; use tcp://HOST:PORT");
  EXPECT_EQ(message_of([] { open_store("tcp://:29500", 1s); }),
            "rendezvous store 'tcp://:29500': no host; use tcp://HOST:PORT");
  EXPECT_NE(message_of([] { open_store("tcp://[::1", 1s); }).find("unclosed '['"), std::string::npos);
}

TEST(OpenStore, FileUrlsMustBeAbsolute) {
  EXPECT_EQ(message_of([] { open_store("file://relative/dir", 1s); }),
            "rendezvous store 'file://relative/dir': the directory must be an absolute path, as in "
            "file:///shared/rdzv (three slashes)");
}

}  // namespace
}  // namespace trainrt::dist
