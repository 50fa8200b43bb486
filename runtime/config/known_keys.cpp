// Known trainrt.toml keys and the unknown-key check (see known_keys.h).
#include "config/known_keys.h"

#include <algorithm>
#include <cctype>

namespace trainrt::config {

const std::vector<KnownSection>& known_keys() {
  static const std::vector<KnownSection> sections = {
      {"", {"threads", "seed", "device", "devices", "quiet", "strategy", "strict", "precision"}},
      {"plugins", {"paths", "strict"}},
      {"cuda", {"tf32"}},
      {"dist", {"backend", "timeout", "rdzv"}},
      {"ddp", {"find_unused_parameters", "bucket_mb", "first_bucket_mb", "broadcast_buffers"}},
      {"checkpoint", {"dir", "resume", "every_epochs", "every_steps", "keep_last"}},
      {"metrics", {"port", "host", "job"}},
  };
  return sections;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

const KnownSection* section_named(const std::string& name) {
  for (const KnownSection& s : known_keys())
    if (s.name == name) return &s;
  return nullptr;
}

std::string where(const toml::node& node) {
  std::string source = source_of(node);
  return source.empty() ? "config" : source;
}

// A top-level key that belongs in a section: "timeout" -> "[dist] timeout".
std::string section_of_key(const std::string& key) {
  for (const KnownSection& s : known_keys())
    if (!s.name.empty() && std::find(s.keys.begin(), s.keys.end(), key) != s.keys.end()) return "[" + s.name + "] " + key;
  return "";
}

std::string join(const std::vector<std::string>& words) {
  std::string list;
  for (const std::string& w : words) list += (list.empty() ? "" : ", ") + w;
  return list;
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(1, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    if (word.size() > 64 || c.size() > 64) continue;  // keys are short; keep this cheap
    size_t d = edit_distance(word, c);
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

std::string source_of(const toml::node& node) {
  const toml::source_region& source = node.source();
  if (!source.path || source.path->empty()) return "";
  if (source.path->rfind("--set ", 0) == 0) return *source.path;
  return *source.path + ":" + std::to_string(source.begin.line);
}

std::vector<std::string> unknown_key_messages(const toml::table& config) {
  std::vector<std::string> out;
  auto check_table = [&](const toml::table& table, const KnownSection& known) {
    for (const auto& [key, value] : table) {
      std::string name(key.str());
      if (known.name.empty() && (value.is_table() || value.is_array_of_tables())) continue;  // a section
      if (std::find(known.keys.begin(), known.keys.end(), name) != known.keys.end()) continue;
      if (known.name.empty() && (section_named(name) || name == "train")) {
        out.push_back(where(value) + ": '" + name + "' must be a section: write [" + name + "] and its keys below it");
        continue;
      }
      std::string label = known.name.empty() ? "'" + name + "'" : "'" + name + "' in [" + known.name + "]";
      std::string hint = closest_match(name, known.keys);
      if (!hint.empty()) hint = " (did you mean '" + hint + "'?)";
      else if (known.name.empty() && !section_of_key(name).empty()) hint = " (did you mean " + section_of_key(name) + "?)";
      else hint = " (known: " + join(known.keys) + ")";
      out.push_back(where(value) + ": unknown key " + label + hint);
    }
  };
  check_table(config, *section_named(""));
  for (const KnownSection& section : known_keys()) {
    if (section.name.empty()) continue;
    if (const toml::table* t = config[section.name].as_table()) check_table(*t, section);
  }
  return out;
}

}  // namespace trainrt::config
