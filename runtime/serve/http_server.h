// The HTTP side of `trainrt serve` (cpp-httplib): routes /v1/predict,
// /v1/model, /healthz, /metrics; limits (body size, content type, inputs per
// request); every refusal a 4xx with {"error": "..."}. Handlers parse and
// validate on the HTTP threads and wait for the batcher's answer.
// Not here: batching (batcher.h), the model (model_loader.h), signals (cli/).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/model_info.h"

namespace httplib {
class Server;
}

namespace trainrt::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (see HttpServer::port)
  size_t max_body = 1 << 20;        // bytes of a request body; more is 413
  int64_t max_batch = 64;           // inputs per request at most (and rows per forward)
  int http_threads = 64;            // connections served at once (keep-alive holds one each)
};

// A request the server refuses: HTTP status and a one-line message.
struct BadRequest {
  int status;
  std::string message;
};

// Parses `{"inputs": [sample, ...]}`. A sample is a number array nested as
// input_shape (or flat with as many numbers); without an input_shape every
// sample must have the first one's shape. Throws BadRequest (400).
Inputs parse_inputs(const std::string& body, const std::optional<Shape>& input_shape, int64_t max_inputs);

// `{"outputs": [...], "argmax": [...]}` (argmax when each output is a vector).
std::string format_outputs(const Outputs& outputs);

class HttpServer {
 public:
  HttpServer(ServerOptions options, const ModelInfo& model, Batcher& batcher, Metrics& metrics);
  ~HttpServer();
  // Binds the listening socket; throws trainrt::Error naming host and port when it cannot.
  void bind();
  int port() const { return port_; }
  // Serves until stop(); returns once every accepted request has been answered.
  void run();
  // From any thread (the signal thread): stop accepting, let in-flight requests finish.
  void stop();

 private:
  void routes();
  ServerOptions options_;
  const ModelInfo& model_;
  Batcher& batcher_;
  Metrics& metrics_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
};

}  // namespace trainrt::serve
