// `trainrt serve --model FILE --checkpoint PATH [options]`: answers
// predictions over HTTP (docs/serving.md). Parses the flags, loads the model,
// binds the port, then serves until SIGTERM/SIGINT, which stops accepting,
// answers what is in flight and exits 0.
// Not here: routes and limits (serve/http_server.cpp), batching (serve/batcher.cpp).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "serve/batcher.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/model_loader.h"

namespace trainrt::cli {
namespace {

void print_serve_usage() {
  std::printf(
      "usage: trainrt serve --model MODEL.lua --checkpoint PATH [options] [run options]\n\n"
      "Serves a model's predictions over HTTP: POST /v1/predict {\"inputs\": [...]},\n"
      "GET /v1/model, /healthz, /metrics (docs/serving.md). SIGTERM or Ctrl-C drains and exits 0.\n\n"
      "options:\n"
      "  --model FILE          a Lua file returning the model: a module, a function building one,\n"
      "                        or {build = fn, input_shape = {1, 28, 28}}\n"
      "  --checkpoint PATH     a .safetensors file with the weights, or a --checkpoint-dir (newest checkpoint)\n"
      "  --host HOST           address to listen on (default 127.0.0.1)\n"
      "  --port N              port (default 8080; 0 = any free port, printed)\n"
      "  --max-batch N         inputs per model forward and per request (default 64)\n"
      "  --batch-wait-ms MS    after a request, wait this long for more to batch (default 2)\n"
      "  --max-body BYTES      largest request body, else 413 (default 1048576)\n"
      "  --http-threads N      connections served at once (default 64)\n"
      "run options such as --device cuda:0, --threads N, --config FILE, --set K=V also apply.\n");
}

long long parse_integer(const std::string& flag, const std::string& value, long long min, long long max) {
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != value.size())
    throw UsageError(flag + " expects an integer, got '" + value + "'");
  if (n < min || n > max)
    throw UsageError(flag + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + value);
  return n;
}

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  std::string model_path, checkpoint, host = "127.0.0.1";
  long long port = 8080, max_batch = 64, max_body = 1 << 20, http_threads = 64;
  double batch_wait_ms = 2;
  RunOptions options;
  for (size_t i = 0; i < args.size();) {
    std::string flag = args[i], value;
    if (flag == "--help" || flag == "-h") {
      print_serve_usage();
      return 0;
    }
    if (size_t used = take_run_option(args, i, options)) {
      i += used;
      continue;
    }
    bool inline_value = false;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      inline_value = true;
    }
    static const char* kFlags[] = {"--model", "--checkpoint", "--host", "--port", "--max-batch", "--batch-wait-ms",
                                   "--max-body", "--http-threads"};
    if (std::find(std::begin(kFlags), std::end(kFlags), flag) == std::end(kFlags))
      throw UsageError("unknown argument '" + args[i] + "' for trainrt serve (trainrt serve --help lists the options)");
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError(flag + " expects a value");
      value = args[++i];
    }
    ++i;
    if (flag == "--model") model_path = value;
    else if (flag == "--checkpoint") checkpoint = value;
    else if (flag == "--host") host = value;
    else if (flag == "--port") port = parse_integer(flag, value, 0, 65535);
    else if (flag == "--max-batch") max_batch = parse_integer(flag, value, 1, 1 << 20);
    else if (flag == "--max-body") max_body = parse_integer(flag, value, 64, 1LL << 32);
    else if (flag == "--http-threads") http_threads = parse_integer(flag, value, 1, 4096);
    else if (flag == "--batch-wait-ms") {
      char* end = nullptr;
      batch_wait_ms = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(batch_wait_ms >= 0 && batch_wait_ms <= 10000))
        throw UsageError("--batch-wait-ms expects milliseconds between 0 and 10000, got '" + value + "'");
    }
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (model_path.empty()) throw UsageError("serve: missing --model FILE (a Lua file returning the model; see trainrt serve --help)");
  if (checkpoint.empty()) throw UsageError("serve: missing --checkpoint PATH (a .safetensors file, or a --checkpoint-dir)");
  if (!fs::is_regular_file(model_path, ec))
    throw UsageError("--model " + model_path + ": " + (fs::exists(model_path, ec) ? "not a regular file" : "no such file") +
                     " (expected a Lua file returning the model)");
  const bool checkpoint_is_dir = fs::is_directory(checkpoint, ec);
  if (!checkpoint_is_dir && !fs::is_regular_file(checkpoint, ec))
    throw UsageError("--checkpoint " + checkpoint + ": no such file or directory (a .safetensors file, or the --checkpoint-dir of a training run)");

  // Signals are taken by one thread with sigtimedwait: block them before any thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client that hung up must not end the server

  PreparedRun run = prepare_run(options);
  lua::RunContext context;
  context.script = model_path;
  context.config = std::move(run.config);
  context.device = run.settings.device;
  context.quiet = run.settings.quiet;
  serve::ServedModel model(context, checkpoint, checkpoint_is_dir);

  serve::Metrics metrics(max_batch);
  serve::BatchOptions batch_options;
  batch_options.max_batch = max_batch;
  batch_options.max_wait = std::chrono::microseconds(static_cast<long long>(batch_wait_ms * 1000));
  serve::Batcher batcher([&model](const Tensor& x) { return model.forward(x); }, batch_options, &metrics);
  serve::ServerOptions server_options;
  server_options.host = host;
  server_options.port = static_cast<int>(port);
  server_options.max_batch = max_batch;
  server_options.max_body = static_cast<size_t>(max_body);
  server_options.http_threads = static_cast<int>(http_threads);
  serve::HttpServer server(server_options, model.info(), batcher, metrics);
  server.bind();

  const serve::ModelInfo& info = model.info();
  std::printf("trainrt serve: listening on http://%s:%d (model %s, checkpoint %s, %lld parameters, max batch %lld)\n",
              host.c_str(), server.port(), info.model_path.c_str(), info.checkpoint_path.c_str(),
              static_cast<long long>(info.parameters), max_batch);
  std::fflush(stdout);

  std::atomic<bool> served{false};
  std::atomic<int> received{0};
  std::thread signal_thread([&] {
    const timespec tick{0, 100'000'000};
    while (!served) {
      const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
      if (sig > 0 && received == 0) received = sig;
      if (received != 0) server.stop();  // again on every tick: a stop before listening began does nothing
    }
  });
  server.run();  // returns when stopped, after every accepted request was answered
  batcher.stop();
  served = true;
  signal_thread.join();
  if (received != 0)
    std::fprintf(stderr, "trainrt serve: %s: stopped accepting, answered the requests in flight; exiting\n",
                 received == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}

}  // namespace trainrt::cli
