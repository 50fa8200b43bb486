// trainrt.toml loading, --set overrides and typed settings (see config.h).
#include "config/config.h"

#include <filesystem>
#include <sstream>

#include "trainrt/device.h"

namespace trainrt::config {
namespace {

std::string describe(const toml::node& node) {
  std::ostringstream out;
  if (auto s = node.as_string()) out << '\'' << s->get() << '\'';
  else node.visit([&](auto&& value) { out << value; });
  return out.str();
}

[[noreturn]] void bad_setting(const std::string& what, const toml::node& node) {
  throw ConfigError("config: " + what + ", got " + describe(node));
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
  return parts;
}

}  // namespace

toml::table load_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw ConfigError("config file '" + path + "' not found");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw ConfigError(path + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                      ": error: " + std::string(e.description()));
  }
}

toml::table load(const std::optional<std::string>& explicit_path) {
  if (explicit_path) return load_file(*explicit_path);
  if (std::filesystem::exists(kDefaultFile)) return load_file(kDefaultFile);
  return {};
}

void apply_override(toml::table& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set expects KEY=VALUE, got '" + assignment + "'");
  std::vector<std::string> keys = split_key(assignment.substr(0, eq));
  std::string text = assignment.substr(eq + 1);

  toml::table* table = &config;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    toml::node* next = table->get(keys[i]);
    if (!next || !next->is_table()) {
      table->insert_or_assign(keys[i], toml::table{});
      next = table->get(keys[i]);
    }
    table = next->as_table();
  }
  const std::string& leaf = keys.back();
  try {
    toml::table parsed = toml::parse("v = " + text);
    table->insert_or_assign(leaf, *parsed.get("v"));
  } catch (const toml::parse_error&) {
    table->insert_or_assign(leaf, text);  // cuda:0, a path, a bare word
  }
}

RunSettings settings_of(const toml::table& config) {
  RunSettings s;
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
      throw ConfigError(std::string("config: ") + e.what());
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
  string_setting("dist.backend", "dist.backend must be a backend name such as \"gloo\"", s.backend);
  string_setting("dist.rdzv", "dist.rdzv must be a store URL (tcp://HOST:PORT, file:///DIR, redis://HOST:PORT)", s.rdzv);
  if (const toml::node* n = config.at_path("dist.timeout").node()) {
    auto v = n->value<double>();
    if (!v || !(*v > 0) || *v > 1e9) bad_setting("dist.timeout must be a positive number of seconds", *n);
    s.timeout_s = *v;
  }
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
