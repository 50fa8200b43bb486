// [metrics] port / host / job (see settings.h).
#include "metrics/settings.h"

#include <sstream>

#include "config/config.h"
#include "config/known_keys.h"

namespace trainrt::metrics {
namespace {

[[noreturn]] void bad(const std::string& what, const toml::node& node) {
  std::ostringstream value;
  if (auto s = node.as_string()) value << '\'' << s->get() << '\'';
  else node.visit([&](auto&& v) { value << v; });
  std::string source = config::source_of(node);
  throw config::ConfigError((source.empty() ? std::string("config") : source) + ": error: " + what + ", got " +
                            value.str());
}

std::string text_setting(const toml::table& config, const char* path, const std::string& fallback) {
  const toml::node* n = config.at_path(path).node();
  if (!n) return fallback;
  auto v = n->value<std::string>();
  if (!v || v->empty() || v->find_first_of(" \t\r\n\"") != std::string::npos)
    bad(std::string(path) + " must be a non-empty string without spaces or quotes", *n);
  return *v;
}

}  // namespace

EndpointSettings endpoint_settings_of(const toml::table& config) {
  EndpointSettings s;
  if (const toml::node* n = config.at_path("metrics.port").node()) {
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 0 || *v > 65535) bad("metrics.port must be an integer from 0 to 65535", *n);
    s.port = static_cast<int>(*v);
  }
  s.host = text_setting(config, "metrics.host", s.host);
  s.job = text_setting(config, "metrics.job", "");
  return s;
}

}  // namespace trainrt::metrics
