// The HTTP side of the metrics (cpp-httplib): GET /metrics (text format 0.0.4)
// and GET /healthz ("ok step=N epoch=E") on host:(port + LOCAL_RANK), served by
// two threads of its own while the script runs. Not a general web server:
// nothing else is routed, and no TLS.
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "trainrt/dispatch.h"
#include "trainrt/dist/env.h"
#include "trainrt/error.h"
#include "trainrt/log.h"
#include "trainrt/metrics.h"

namespace trainrt::metrics {

struct Endpoint::Server {
  httplib::Server http;
  std::thread thread;
};

namespace {

std::atomic<int> serving{0};

std::string job_name(const std::string& job, const std::string& script) {
  if (!job.empty()) return job;
  std::string stem = std::filesystem::path(script).stem().string();
  return stem.empty() ? "trainrt" : stem;
}

}  // namespace

Endpoint::Endpoint(const EndpointSettings& settings, const std::string& script) {
  dist::DistEnv env = dist::detect_dist_env();
  registry().set_constant_labels({{"job", job_name(settings.job, script)}, {"rank", std::to_string(env.rank)}});
  register_runtime_metrics();
  set_world_size(env.world_size);
  enable_kernel_timing();

  const int port = settings.port == 0 ? 0 : settings.port + env.local_rank;
  const std::string rank = "rank " + std::to_string(env.rank);
  const std::string from = env.local_rank > 0 && settings.port > 0
                               ? " (metrics port " + std::to_string(settings.port) + " + LOCAL_RANK " +
                                     std::to_string(env.local_rank) + ")"
                               : "";
  TRT_CHECK(port <= 65535, rank, ": cannot serve metrics on port ", port, from, ": ports end at 65535");

  server_ = std::make_unique<Server>();
  httplib::Server& http = server_->http;
  // httplib's default sets SO_REUSEPORT, which would let two ranks share one
  // port without an error; SO_REUSEADDR alone only skips TIME_WAIT.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  http.set_keep_alive_max_count(10);
  http.Get("/metrics", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry().expose(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(health_line(), "text/plain; charset=utf-8");
  });

  errno = 0;
  bool bound = false;
  if (port == 0) {
    port_ = http.bind_to_any_port(settings.host);
    bound = port_ > 0;
  } else {
    bound = http.bind_to_port(settings.host, port);
    port_ = port;
  }
  if (!bound) {
    int error = errno;
    std::string why = error == EADDRINUSE ? "address already in use"
                      : error != 0        ? std::strerror(error)
                                          : "cannot bind (is [metrics] host an address of this machine?)";
    fail(rank + ": cannot serve metrics on " + settings.host + ":" + std::to_string(port) + ": " + why + from +
         "; choose another --metrics-port");
  }
  server_->thread = std::thread([this] { server_->http.listen_after_bind(); });
  serving.store(port_);
  log(LogLevel::Info, "metrics: serving http://" + settings.host + ":" + std::to_string(port_) + "/metrics (" + rank + ")");
}

int serving_port() { return serving.load(); }

Endpoint::~Endpoint() {
  if (!server_) return;
  serving.store(0);
  server_->http.stop();
  if (server_->thread.joinable()) server_->thread.join();
}

}  // namespace trainrt::metrics
