// Parsing of the standard run options (see run_options.h).
#include "config/run_options.h"

#include <cctype>
#include <cstdlib>

#include "config/config.h"
#include "trainrt/autocast.h"
#include "trainrt/device.h"

namespace trainrt {
namespace {

bool is_integer(const std::string& s, bool allow_negative) {
  size_t start = allow_negative && !s.empty() && s[0] == '-' ? 1 : 0;
  if (start == s.size()) return false;
  for (size_t i = start; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return s.size() - start <= 18;
}

// value as a TOML basic string ("...", with \ and " escaped), for --set-style overrides.
std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

const std::vector<RunOptionSpec>& run_option_specs() {
  static const std::vector<RunOptionSpec> specs = {
      {"--config", "FILE", "read settings from FILE instead of ./trainrt.toml"},
      {"--set", "KEY=VALUE", "override a config value, e.g. --set train.epochs=5 (repeatable)"},
      {"--threads", "N", "CPU threads for kernels (default: all cores)"},
      {"--device", "DEVICE", "cpu or cuda:N (default: cpu)"},
      {"--devices", "LIST", "logical CPU devices for the mirrored strategy: cpu:0,cpu:1, cpu:* (one per thread) or a count"},
      {"--seed", "N", "seed of the random generators"},
      {"--precision", "fp32|bf16", "bf16: conv2d, linear and matmul on bfloat16 values, float32 master weights (default: fp32)"},
      {"--quiet", "", "log warnings and errors only"},
      {"--strategy", "NAME", "single (default), ddp, mirrored, or a strategy script: a path or a module on TRAINRT_LUA_PATH"},
      {"--backend", "NAME", "collective backend for ddp (default: nccl on cuda, gloo on cpu)"},
      {"--timeout", "SECONDS", "a collective or rendezvous that takes longer fails (default: 300)"},
      {"--checkpoint-dir", "DIR", "save checkpoints in DIR (every epoch unless checkpoint.every_steps/every_epochs say)"},
      {"--resume", "auto|PATH", "continue from a checkpoint: auto = the newest complete one in --checkpoint-dir"},
      {"--metrics-port", "PORT", "serve Prometheus metrics on PORT + LOCAL_RANK at /metrics and /healthz (docs/monitoring.md)"},
  };
  return specs;
}

size_t take_run_option(const std::vector<std::string>& args, size_t i, RunOptions& out) {
  const std::string& arg = args[i];
  if (arg.rfind("--", 0) != 0) return 0;
  std::string flag = arg, inline_value;
  bool has_inline = false;
  if (auto eq = arg.find('='); eq != std::string::npos) {
    flag = arg.substr(0, eq);
    inline_value = arg.substr(eq + 1);
    has_inline = true;
  }
  const RunOptionSpec* spec = nullptr;
  for (const RunOptionSpec& s : run_option_specs())
    if (s.flag == flag) spec = &s;
  if (!spec) return 0;

  if (spec->metavar.empty()) {  // a switch
    if (has_inline) throw UsageError(flag + " takes no value, got '" + inline_value + "'");
    out.overrides.push_back(flag.substr(2) + "=true");
    return 1;
  }
  std::string value;
  size_t used = 1;
  if (has_inline) {
    value = inline_value;
  } else {
    if (i + 1 >= args.size()) throw UsageError(flag + " expects " + spec->metavar + ", got nothing");
    value = args[i + 1];
    used = 2;
  }

  if (flag == "--config") {
    if (value.empty()) throw UsageError("--config expects FILE, got ''");
    out.config_file = value;
  } else if (flag == "--set") {
    if (value.find('=') == std::string::npos || value[0] == '=')
      throw UsageError("--set expects KEY=VALUE, got '" + value + "'");
    out.overrides.push_back(value);
  } else if (flag == "--threads") {
    if (!is_integer(value, false) || std::stoll(value) < 1)
      throw UsageError("--threads expects a positive integer, got '" + value + "'");
    out.overrides.push_back("threads=" + value);
  } else if (flag == "--precision") {
    try {
      parse_precision(value);
    } catch (const Error& e) {
      throw UsageError(std::string("--precision: ") + e.what());
    }
    out.overrides.push_back("precision=" + toml_string(value));
  } else if (flag == "--seed") {
    if (!is_integer(value, false)) throw UsageError("--seed expects a non-negative integer, got '" + value + "'");
    out.overrides.push_back("seed=" + value);
  } else if (flag == "--device") {
    try {
      Device::parse(value);
    } catch (const Error& e) {
      throw UsageError(std::string("--device: ") + e.what());
    }
    out.overrides.push_back("device=\"" + value + "\"");
  } else if (flag == "--devices") {
    try {
      config::parse_devices(value);
    } catch (const Error& e) {
      throw UsageError(std::string("--devices: ") + e.what());
    }
    out.overrides.push_back("devices=" + toml_string(value));
  } else if (flag == "--strategy" || flag == "--backend") {
    if (value.empty() || value.find('"') != std::string::npos || value.find('\\') != std::string::npos)
      throw UsageError(flag + " expects " + spec->metavar + ", got '" + value + "'");
    std::string key = flag == "--strategy" ? "strategy" : "dist.backend";
    out.overrides.push_back(key + "=\"" + value + "\"");
  } else if (flag == "--timeout") {
    char* end = nullptr;
    double seconds = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(seconds > 0) || seconds > 1e9)
      throw UsageError("--timeout expects a positive number of seconds, got '" + value + "'");
    out.overrides.push_back("dist.timeout=" + std::to_string(seconds));
  } else if (flag == "--metrics-port") {
    if (!is_integer(value, false) || std::stoll(value) > 65535)
      throw UsageError("--metrics-port expects a port from 0 to 65535, got '" + value + "'");
    out.overrides.push_back("metrics.port=" + std::to_string(std::stoll(value)));
  } else if (flag == "--checkpoint-dir" || flag == "--resume") {
    if (value.empty() || value.find_first_of("\n\r") != std::string::npos)
      throw UsageError(flag + " expects " + spec->metavar + ", got '" + value + "'");
    std::string key = flag == "--checkpoint-dir" ? "checkpoint.dir" : "checkpoint.resume";
    out.overrides.push_back(key + "=" + toml_string(value));
  }
  return used;
}

}  // namespace trainrt
