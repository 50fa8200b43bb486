// Routes, validation and limits of `trainrt serve` (see http_server.h).
#include "serve/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "trainrt/error.h"

namespace trainrt::serve {
namespace {

using json = nlohmann::json;
// Outputs as float: the shortest text that reads back as the same float32.
using float_json = nlohmann::basic_json<std::map, std::vector, std::string, bool, std::int64_t, std::uint64_t, float>;

constexpr int kMaxJsonDepth = 32;
constexpr const char* kRoutes[] = {"/v1/predict", "/v1/model", "/healthz", "/metrics"};

std::string shape_text(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

[[noreturn]] void bad(const std::string& message, int status = 400) { throw BadRequest{status, message}; }

// The sizes along the first element of each nesting level: [[1, 2], [3, 4], [5, 6]] -> (3, 2).
Shape shape_along_first(const json& v) {
  Shape shape;
  const json* p = &v;
  while (p->is_array()) {
    shape.push_back(static_cast<int64_t>(p->size()));
    if (p->empty()) break;
    p = &(*p)[0];
  }
  return shape;
}

// Appends the numbers of v, which must be nested exactly as `shape` from level d.
void flatten(const json& v, const Shape& shape, size_t d, std::string& where, std::vector<float>& out) {
  if (d == shape.size()) {
    if (!v.is_number()) bad(where + ": expected a number, got " + std::string(v.type_name()));
    double x = v.get<double>();
    if (!std::isfinite(static_cast<float>(x))) bad(where + ": " + v.dump() + " is outside float32's range");
    out.push_back(static_cast<float>(x));
    return;
  }
  if (!v.is_array() || static_cast<int64_t>(v.size()) != shape[d])
    bad(where + ": expected an array of " + std::to_string(shape[d]) + (v.is_array() ? ", got " + std::to_string(v.size()) + " elements" : ", got " + std::string(v.type_name())) +
        " (samples must not be ragged)");
  const size_t length = where.size();
  for (size_t i = 0; i < v.size(); ++i) {
    where += "[" + std::to_string(i) + "]";
    flatten(v[i], shape, d + 1, where, out);
    where.resize(length);
  }
}

void add_nested(float_json& out, const float* values, const Shape& shape, size_t d) {
  if (d == shape.size()) {
    out = *values;
    return;
  }
  out = float_json::array();
  int64_t stride = 1;
  for (size_t k = d + 1; k < shape.size(); ++k) stride *= shape[k];
  for (int64_t i = 0; i < shape[d]; ++i) {
    float_json element;
    add_nested(element, values + i * stride, shape, d + 1);
    out.push_back(std::move(element));
  }
}

std::string error_body(const std::string& message) { return json{{"error", message}}.dump() + "\n"; }

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(error_body(message), "application/json");
}

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  type.erase(std::remove_if(type.begin(), type.end(), [](unsigned char c) { return std::isspace(c); }), type.end());
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type;
}

std::string route_label(const std::string& path) {
  for (const char* route : kRoutes)
    if (path == route) return route;
  return "other";
}

}  // namespace

Inputs parse_inputs(const std::string& body, const std::optional<Shape>& input_shape, int64_t max_inputs) {
  json doc;
  try {
    doc = json::parse(body, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) bad("malformed JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return true;
    });
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (size_t colon = what.find("] "); colon != std::string::npos) what = what.substr(colon + 2);
    bad("malformed JSON: " + what);
  }
  if (!doc.is_object()) bad("expected a JSON object {\"inputs\": [...]}, got " + std::string(doc.type_name()));
  auto it = doc.find("inputs");
  if (it == doc.end()) bad("missing \"inputs\": expected {\"inputs\": [sample, ...]}");
  const json& inputs = *it;
  if (!inputs.is_array()) bad("\"inputs\" must be an array of samples, got " + std::string(inputs.type_name()));
  if (inputs.empty()) bad("\"inputs\" is empty: send at least one sample");
  if (static_cast<int64_t>(inputs.size()) > max_inputs)
    bad("\"inputs\" has " + std::to_string(inputs.size()) + " samples; at most " + std::to_string(max_inputs) +
        " per request (--max-batch)");

  Inputs out;
  out.rows = static_cast<int64_t>(inputs.size());
  Shape first = shape_along_first(inputs[0]);
  if (input_shape) {
    out.row_shape = *input_shape;
  } else {
    out.row_shape = first;
    if (std::find(first.begin(), first.end(), 0) != first.end())
      bad("inputs[0] has shape " + shape_text(first) + " with no numbers");
  }
  // The shape comes from the request's first sample (or the model); every
  // number takes at least one byte of the body, so a shape claiming more
  // numbers than the body holds is refused before it sizes an allocation.
  const int64_t available = static_cast<int64_t>(body.size());
  int64_t numel = 1;
  for (int64_t d : out.row_shape)
    if (__builtin_mul_overflow(numel, d, &numel) || numel > available)
      bad("inputs[0] has shape " + shape_text(out.row_shape) + ": more numbers than the request body holds");
  if (numel > 0 && out.rows > available / numel)
    bad(std::to_string(out.rows) + " samples of shape " + shape_text(out.row_shape) +
        ": more numbers than the request body holds");
  out.values.reserve(static_cast<size_t>(numel * out.rows));
  std::string where;
  for (size_t i = 0; i < inputs.size(); ++i) {
    where = "inputs[" + std::to_string(i) + "]";
    Shape nested = out.row_shape;
    if (input_shape) {
      Shape got = shape_along_first(inputs[i]);
      if (got.size() == 1 && got[0] == numel && out.row_shape.size() != 1) nested = {numel};  // flat sample
      else if (got != *input_shape)
        bad(where + " has shape " + shape_text(got) + "; the model takes " + shape_text(*input_shape) +
            (input_shape->size() > 1 ? " (or " + std::to_string(numel) + " numbers flat)" : std::string()));
    }
    flatten(inputs[i], nested, 0, where, out.values);
  }
  return out;
}

std::string format_outputs(const Outputs& outputs) {
  float_json doc = float_json::object();
  float_json& rows = doc["outputs"] = float_json::array();
  const int64_t numel = numel_of(outputs.row_shape);
  for (int64_t r = 0; r < outputs.rows; ++r) {
    float_json row;
    add_nested(row, outputs.values.data() + r * numel, outputs.row_shape, 0);
    rows.push_back(std::move(row));
  }
  if (outputs.row_shape.size() == 1 && numel > 0) {
    float_json& argmax = doc["argmax"] = float_json::array();
    for (int64_t r = 0; r < outputs.rows; ++r) {
      const float* row = outputs.values.data() + r * numel;
      argmax.push_back(static_cast<int64_t>(std::max_element(row, row + numel) - row));
    }
  }
  return doc.dump() + "\n";
}

HttpServer::HttpServer(ServerOptions options, const ModelInfo& model, Batcher& batcher, Metrics& metrics)
    : options_(std::move(options)), model_(model), batcher_(batcher), metrics_(metrics),
      server_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(options_.http_threads, 1);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a
  // second server share a port that is in use instead of failing.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_payload_max_length(options_.max_body);
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(2);  // also bounds how long an idle keep-alive connection delays shutdown
  server_->set_tcp_nodelay(true);
  routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::routes() {
  httplib::Server& s = *server_;
  s.Post("/v1/predict", [this](const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    metrics_.in_flight_add(1);
    try {
      if (!req.has_header("Content-Type") || media_type(req.get_header_value("Content-Type")) != "application/json")
        bad("expected Content-Type: application/json, got " +
                (req.has_header("Content-Type") ? "'" + req.get_header_value("Content-Type") + "'" : std::string("none")),
            415);
      Inputs inputs = parse_inputs(req.body, model_.input_shape, options_.max_batch);
      std::future<Outputs> answer = batcher_.submit(std::move(inputs));
      try {
        res.set_content(format_outputs(answer.get()), "application/json");
      } catch (const std::exception& e) {
        // With a declared input_shape the inputs were checked: the model failed (500).
        // Without, a shape the model refuses is the request's fault (400).
        if (model_.input_shape) send_error(res, 500, std::string("the model failed: ") + e.what());
        else send_error(res, 400, std::string("the model refused the inputs: ") + e.what());
      }
    } catch (const BadRequest& e) {
      send_error(res, e.status, e.message);
    } catch (const std::exception& e) {  // submit after shutdown began
      send_error(res, 503, e.what());
    }
    metrics_.in_flight_add(-1);
    metrics_.predict_latency(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.exposition(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/v1/model", [this](const httplib::Request&, httplib::Response& res) {
    json doc = {{"model", model_.model_path},
                {"checkpoint", model_.checkpoint_path},
                {"parameters", model_.parameters},
                {"input_shape", model_.input_shape ? json(*model_.input_shape) : json(nullptr)},
                {"device", model_.device},
                {"max_batch", options_.max_batch},
                {"max_body_bytes", options_.max_body}};
    if (!model_.prefix.empty()) doc["checkpoint_prefix"] = model_.prefix;
    res.set_content(doc.dump() + "\n", "application/json");
  });
  // Known paths with another method: 405 naming the one that works.
  for (const char* route : kRoutes) {
    const std::string allowed = std::string(route) == "/v1/predict" ? "POST" : "GET";
    auto not_allowed = [allowed](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allowed);
      send_error(res, 405, req.method + " is not allowed on " + req.path + "; use " + allowed);
    };
    if (allowed == "POST") s.Get(route, not_allowed);
    else s.Post(route, not_allowed);
    s.Put(route, not_allowed);
    s.Patch(route, not_allowed);
    s.Delete(route, not_allowed);
  }
  // Statuses httplib sets itself (404 no route, 413 body too large, 400 bad
  // request line) get the same JSON body as ours.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    if (res.status == 404) message = "no route " + req.path + " (routes: POST /v1/predict, GET /v1/model, /healthz, /metrics)";
    else if (res.status == 413) message = "request body larger than " + std::to_string(options_.max_body) + " bytes (--max-body)";
    else message = res.status == 400 ? "bad request (HTTP 400)" : "request refused (HTTP " + std::to_string(res.status) + ")";
    res.set_content(error_body(message), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.request_done(route_label(req.path), res.status);
  });
}

void HttpServer::bind() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ < 0) fail("cannot listen on " + options_.host + ": " + std::strerror(errno));
    return;
  }
  errno = 0;
  if (!server_->bind_to_port(options_.host, options_.port)) {
    const int err = errno;
    fail("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " +
         (err == EADDRINUSE ? std::string("the port is in use; stop what uses it or pick another --port")
          : err ? std::string(std::strerror(err)) + " (check --host and --port)"
                : std::string("check --host and --port")));
  }
  port_ = options_.port;
}

void HttpServer::run() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

}  // namespace trainrt::serve
