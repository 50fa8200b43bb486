// The one list of keys trainrt itself reads from trainrt.toml, and the check
// that warns about (or, with `strict = true`, refuses) any other key inside
// those sections or at the top level, suggesting the closest known key.
// [train] is the script's (its trainrt.args flags; args.lua checks it); other
// sections ([model], a user strategy's [clipped_ddp]) belong to user code and
// are never checked. To add a setting: add its key here, then read it in
// config.cpp's settings_of or in the Lua code that uses it.
#pragma once
#include <toml++/toml.h>

#include <string>
#include <vector>

namespace trainrt::config {

struct KnownSection {
  std::string name;               // "" for top-level keys
  std::vector<std::string> keys;
};
const std::vector<KnownSection>& known_keys();

// One line per unknown key, each naming where it is and the closest known key:
// "trainrt.toml:3: unknown key 'thread' (did you mean 'threads'?)".
std::vector<std::string> unknown_key_messages(const toml::table& config);

// The candidate closest to `word` (edit distance at most a third of its
// length, at least 1, case-insensitive), or "" when none is that close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// Where a value came from: "trainrt.toml:3" for a file, "--set a.b=1" for an
// override, "" when unknown.
std::string source_of(const toml::node& node);

}  // namespace trainrt::config
