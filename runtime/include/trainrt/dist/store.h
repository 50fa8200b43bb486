// The rendezvous key-value store: how the processes of a job find each other
// (torchrun's TCPStore, Gloo's rendezvous::Store). Keys are strings, values are
// bytes; `add` keeps a decimal integer. Three transports behind one interface:
//   tcp://HOST:PORT   our own server (TcpStoreServer), hosted by `trainrt launch`
//                     on node 0, or by rank 0 when no launcher started the job;
//   file:///DIR       a directory every process can see (NFS, a shared volume);
//   redis://HOST:PORT a Redis server the cluster already runs (hiredis).
// Every blocking call has a timeout and throws StoreTimeout naming the keys.
// Deliberately not here: who hosts the server and which ranks join (rendezvous.h).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/error.h"

namespace trainrt::dist {

using std::chrono::milliseconds;

// A blocking store call ran out of time; the message names the store, the
// missing keys and the timeout.
class StoreTimeout : public Error {
 public:
  using Error::Error;
};

class Store {
 public:
  virtual ~Store() = default;
  // Sets (or overwrites) key.
  virtual void set(const std::string& key, const std::string& value) = 0;
  // The value of key, waiting up to `timeout` for it to be set.
  virtual std::string get(const std::string& key, milliseconds timeout) = 0;
  // Atomically adds delta to the decimal integer at key (absent = 0); returns the new value.
  virtual int64_t add(const std::string& key, int64_t delta) = 0;
  // True when every key exists; never blocks.
  virtual bool check(const std::vector<std::string>& keys) = 0;
  // Waits until every key exists; StoreTimeout lists the keys still missing.
  virtual void wait(const std::vector<std::string>& keys, milliseconds timeout) = 0;
  // Deletes key; false when it did not exist.
  virtual bool remove(const std::string& key) = 0;
  // "tcp://10.0.0.1:29500", for messages.
  virtual std::string describe() const = 0;
  // The local IP address a TCP client uses to reach its server (the interface
  // that routes to the master); "" for other stores. Collective backends bind
  // there unless GLOO_SOCKET_IFNAME says otherwise.
  virtual std::string local_address() const { return ""; }
};

// A store that prepends `prefix` to every key of `base` (a restart attempt, a
// process group). describe() is the base's; timeouts name the full (prefixed) keys.
std::shared_ptr<Store> make_prefix_store(const std::string& prefix, std::shared_ptr<Store> base);

// An in-process store (threads as ranks in tests; a job of one process).
std::shared_ptr<Store> make_memory_store();

// Opens "tcp://HOST:PORT", "file:///DIR" or "redis://HOST:PORT". A TCP or
// Redis server that does not answer is retried until connect_timeout, then
// Error("cannot reach the rendezvous store at tcp://H:P after 30 s: <why>; ...").
// An unknown scheme is an Error naming the three that exist. file:// takes an
// absolute directory only (file:///DIR; "file://dir" is an Error); redis://
// keeps every key under "trainrt/" so a shared Redis is not polluted.
std::shared_ptr<Store> open_store(const std::string& url, milliseconds connect_timeout);

// The TCP store's server: binds HOST:PORT (port 0 picks a free one) and serves
// any number of clients on a background thread until destroyed. A port in use
// is Error("cannot host the rendezvous store on HOST:PORT: address already in
// use; another job may hold it: choose another --master-port").
class TcpStoreServer {
 public:
  TcpStoreServer(const std::string& host, int port);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainrt::dist
