// trainrt.toml loading, --set overrides and typed settings (see config.h).
#include "config/config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/known_keys.h"
#include "trainrt/device.h"
#include "trainrt/log.h"

namespace trainrt::config {
namespace fs = std::filesystem;
namespace {

std::string describe(const toml::node& node) {
  std::ostringstream out;
  if (auto s = node.as_string()) out << '\'' << s->get() << '\'';
  else node.visit([&](auto&& value) { out << value; });
  return out.str();
}

[[noreturn]] void bad_setting(const std::string& what, const toml::node& node) {
  std::string source = source_of(node);
  throw ConfigError((source.empty() ? std::string("config") : source) + ": error: " + what + ", got " + describe(node));
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(key);
  while (std::getline(in, part, '.')) {
    if (part.empty()) throw ConfigError("--set: bad key '" + key + "' (use section.key=value)");
    parts.push_back(part);
  }
  if (parts.empty()) throw ConfigError("--set: empty key (use key=value)");
  if (key.back() == '.') throw ConfigError("--set: bad key '" + key + "' (use section.key=value)");
  if (parts.size() > kMaxKeyParts)
    throw ConfigError("--set: key '" + key.substr(0, 64) + "...' has " + std::to_string(parts.size()) +
                      " parts, more than " + std::to_string(kMaxKeyParts));
  return parts;
}

// text as a TOML basic string: "..." with \, " and control characters escaped.
std::string toml_quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string where(const toml::parse_error& e, const std::string& fallback) {
  const auto& begin = e.source().begin;
  return fallback + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column);
}

// A number of megabytes for [ddp] bucket sizes: finite, > 0, at most 64 GiB.
void check_megabytes(const toml::table& config, const char* path) {
  if (const toml::node* n = config.at_path(path).node()) {
    auto v = n->value<double>();
    if (!v || !std::isfinite(*v) || *v <= 0 || *v > 65536)
      bad_setting(std::string(path) + " must be a number of megabytes above 0 and at most 65536", *n);
  }
}

template <typename... Args>
[[noreturn]] void devices_error(const Args&... parts) {
  throw Error(detail::concat(parts...));
}

void check_boolean(const toml::table& config, const char* path) {
  if (const toml::node* n = config.at_path(path).node(); n && !n->is_boolean())
    bad_setting(std::string(path) + " must be true or false", *n);
}

}  // namespace

DeviceList parse_devices(const std::string& spec) {
  const std::string usage =
      "; use cpu:0,cpu:1,... (in order from cpu:0), cpu:* (one per thread), a count such as 2, "
      "or cuda:0,cuda:1,... / cuda:* (every visible GPU)";
  auto is_digits = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  DeviceList list;
  if (spec == "cpu:*") {
    list.per_thread = true;
    return list;
  }
  if (spec == "cuda:*" || spec == "gpu:*") {
    list.type = DeviceType::CUDA;
    list.all_visible = true;
    return list;
  }
  if (is_digits(spec)) {
    list.count = std::stoi(spec);
  } else {
    if (spec.empty()) devices_error("no devices given", usage);
    std::vector<std::string> names;
    std::string name;
    std::istringstream in(spec);
    while (std::getline(in, name, ',')) names.push_back(name);
    if (spec.back() == ',') names.push_back("");
    if (names.size() > static_cast<size_t>(kMaxCpuDevices))
      devices_error("more than ", kMaxCpuDevices, " devices in '", spec.substr(0, 32), "...'");
    if (names[0].rfind("cuda:", 0) == 0 || names[0].rfind("gpu:", 0) == 0) list.type = DeviceType::CUDA;
    const std::string kind = list.type == DeviceType::CUDA ? "cuda:" : "cpu:";
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string expected = kind + std::to_string(i);
      std::string name = names[i].rfind("gpu:", 0) == 0 ? "cuda:" + names[i].substr(4) : names[i];
      if (name == expected) continue;
      if (name.empty()) devices_error("empty device name at position ", i + 1, " of '", spec, "'", usage);
      if (name.rfind(kind, 0) == 0 && is_digits(name.substr(kind.size())))
        devices_error("'", spec, "' lists ", names[i], " at position ", i + 1, ", expected ", expected, usage);
      if (name.rfind("cpu:", 0) == 0 || name.rfind("cuda:", 0) == 0)
        devices_error("'", spec, "' mixes CPU and CUDA devices; list one kind", usage);
      devices_error("'", names[i], "' is not a device such as ", expected, usage);
    }
    list.count = static_cast<int>(names.size());
  }
  if (list.count < 1 || list.count > kMaxCpuDevices)
    devices_error("the device count must be between 1 and ", kMaxCpuDevices, ", got ", spec);
  return list;
}

toml::table parse_text(std::string_view text, const std::string& source_name) {
  try {
    return toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    throw ConfigError(where(e, source_name) + ": error: " + std::string(e.description()));
  }
}

toml::table load_file(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw ConfigError("config file '" + path + "' not found");
  if (fs::is_directory(status)) {
    std::string hint = fs::is_regular_file(fs::path(path) / kDefaultFile, ec)
                           ? " (did you mean " + (fs::path(path) / kDefaultFile).string() + "?)"
                           : "";
    throw ConfigError("config file '" + path + "' is a directory, expected a TOML file" + hint);
  }
  if (!fs::is_regular_file(status)) throw ConfigError("config file '" + path + "' is not a regular file");
  uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxConfigBytes)
    throw ConfigError("config file '" + path + "' has " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(kMaxConfigBytes) + " a config may have; is it the right file?");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read config file '" + path + "': " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_text(text, path);
}

toml::table load(const std::optional<std::string>& explicit_path) {
  if (explicit_path) return load_file(*explicit_path);
  std::error_code ec;
  if (fs::exists(kDefaultFile, ec)) return load_file(kDefaultFile);
  return {};
}

void apply_override(toml::table& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set expects KEY=VALUE, got '" + assignment + "'");
  std::vector<std::string> keys = split_key(assignment.substr(0, eq));
  std::string text = assignment.substr(eq + 1);
  const std::string source = "--set " + assignment;  // the values' source(), named in errors

  toml::table parsed;
  bool is_value = true;  // one TOML value; else the text is taken as a string
  try {
    parsed = toml::parse("v = " + text, std::string_view(source));
    is_value = parsed.size() == 1;  // "1\n[x]" parses too, but is not one value
  } catch (const toml::parse_error&) {
    is_value = false;
  }
  if (!is_value) {
    try {
      parsed = toml::parse("v = " + toml_quoted(text), std::string_view(source));  // cuda:0, a path, a bare word
    } catch (const toml::parse_error& e) {  // e.g. invalid UTF-8
      throw ConfigError(source + ": error: " + std::string(e.description()));
    }
  }
  toml::table* table = &config;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    toml::node* next = table->get(keys[i]);
    if (!next || !next->is_table()) {
      table->insert_or_assign(keys[i], toml::table{});
      next = table->get(keys[i]);
    }
    table = next->as_table();
  }
  table->insert_or_assign(keys.back(), std::move(*parsed.get("v")));  // moved: keeps its source()
}

RunSettings settings_of(const toml::table& config) {
  RunSettings s;
  if (const toml::node* n = config.get("strict")) {
    if (!n->is_boolean()) bad_setting("strict must be true or false", *n);
    s.strict = n->as_boolean()->get();
  }
  std::vector<std::string> unknown = unknown_key_messages(config);
  if (s.strict && !unknown.empty()) {
    std::string first = unknown.front();
    std::string more = unknown.size() > 1 ? " (and " + std::to_string(unknown.size() - 1) + " more)" : "";
    size_t colon = first.find(": unknown key");
    throw ConfigError(first.substr(0, colon) + ": error:" + first.substr(colon + 1) + more +
                      "; strict = true makes unknown keys errors");
  }
  for (const std::string& message : unknown) log(LogLevel::Warn, message);

  if (const toml::node* n = config.get("threads")) {
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 1 || *v > 1024) bad_setting("threads must be an integer between 1 and 1024", *n);
    s.threads = static_cast<int>(*v);
  }
  if (const toml::node* n = config.get("seed")) {
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 0) bad_setting("seed must be a non-negative integer", *n);
    s.seed = static_cast<uint64_t>(*v);
  }
  if (const toml::node* n = config.get("device")) {
    if (!n->is_string()) bad_setting("device must be a string such as \"cpu\" or \"cuda:0\"", *n);
    s.device = n->as_string()->get();
    try {
      Device::parse(s.device);
    } catch (const Error& e) {
      std::string source = source_of(*n);
      throw ConfigError((source.empty() ? std::string("config") : source) + ": error: " + e.what());
    }
  }
  if (const toml::node* n = config.get("devices")) {
    std::string spec;  // a string, a count, or a list of device names
    if (const toml::array* names = n->as_array()) {
      for (const toml::node& d : *names) {
        if (!d.is_string()) bad_setting("devices must be a list of device names such as [\"cpu:0\", \"cpu:1\"]", *n);
        spec += (spec.empty() ? "" : ",") + d.as_string()->get();
      }
    } else if (n->is_integer()) {
      int64_t count = n->as_integer()->get();
      if (count < 1 || count > kMaxCpuDevices)
        bad_setting("devices must be a count between 1 and " + std::to_string(kMaxCpuDevices), *n);
      spec = std::to_string(count);
    } else if (n->is_string()) {
      spec = n->as_string()->get();
    } else {
      bad_setting("devices must be \"cpu:0,cpu:1\", [\"cpu:0\", \"cpu:1\"], \"cpu:*\" or a count", *n);
    }
    try {
      s.devices = parse_devices(spec);
    } catch (const Error& e) {
      std::string source = source_of(*n);
      throw ConfigError((source.empty() ? std::string("config") : source) + ": error: devices: " + e.what());
    }
  }
  if (const toml::node* n = config.get("quiet")) {
    if (!n->is_boolean()) bad_setting("quiet must be true or false", *n);
    s.quiet = n->as_boolean()->get();
  }
  auto string_setting = [&](const char* path, const char* what, std::string& out) {
    if (const toml::node* n = config.at_path(path).node()) {
      if (!n->is_string() || n->as_string()->get().empty()) bad_setting(what, *n);
      out = n->as_string()->get();
    }
  };
  string_setting("strategy", "strategy must be a name such as \"ddp\" or a path to a strategy script", s.strategy);
  string_setting("precision", "precision must be \"fp32\" or \"bf16\"", s.precision);
  if (s.precision != "fp32" && s.precision != "float32" && s.precision != "bf16" && s.precision != "bfloat16")
    bad_setting("precision must be \"fp32\" or \"bf16\"", *config.get("precision"));
  string_setting("dist.backend", "dist.backend must be a backend name such as \"gloo\"", s.backend);
  string_setting("dist.rdzv", "dist.rdzv must be a store URL (tcp://HOST:PORT, file:///DIR, redis://HOST:PORT)", s.rdzv);
  if (const toml::node* n = config.at_path("dist.timeout").node()) {
    auto v = n->value<double>();
    if (!v || !(*v > 0) || *v > 1e9) bad_setting("dist.timeout must be a positive number of seconds", *n);
    s.timeout_s = *v;
  }
  // [ddp] is read by the ddp strategy (Lua); its values are checked here, at start.
  check_boolean(config, "ddp.find_unused_parameters");
  check_boolean(config, "ddp.broadcast_buffers");
  check_megabytes(config, "ddp.bucket_mb");
  check_megabytes(config, "ddp.first_bucket_mb");
  check_boolean(config, "cuda.tf32");
  if (const toml::node* n = config.at_path("cuda.tf32").node()) s.cuda_tf32 = n->as_boolean()->get();
  check_boolean(config, "plugins.strict");
  if (const toml::node* n = config.at_path("plugins.strict").node()) s.plugins_strict = n->as_boolean()->get();
  if (const toml::node* n = config.at_path("plugins.paths").node()) {
    if (n->is_string()) {
      s.plugin_paths.push_back(n->as_string()->get());
    } else if (const toml::array* paths = n->as_array()) {
      for (const toml::node& p : *paths) {
        if (!p.is_string()) bad_setting("plugins.paths must be an array of strings", *n);
        s.plugin_paths.push_back(p.as_string()->get());
      }
    } else {
      bad_setting("plugins.paths must be an array of strings", *n);
    }
  }
  return s;
}

}  // namespace trainrt::config
