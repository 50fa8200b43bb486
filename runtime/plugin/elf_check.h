// The check a plugin file passes before dlopen: an ELF shared object for this
// machine whose header tables and segments lie inside the file. dlopen maps a
// file cut short without complaint and the process dies of SIGBUS when it
// touches the missing pages; a plugin for another architecture gets a
// misleading "No such file or directory". check_elf_plugin is a pure function
// over bytes, so it can be fuzzed. Not here: the dynamic symbols or what init
// registers (loader.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace trainrt {

// `data` holds the whole file (`size` bytes). Returns "" when dlopen may be
// tried, else one line saying what is wrong and what to do, e.g.
// "built for aarch64, this is x86_64; rebuild the plugin for x86_64" or
// "file is cut short: 9000 bytes, but segment 3 (PT_LOAD) ends at byte 12304; copy or rebuild it again".
std::string check_elf_plugin(const uint8_t* data, size_t size);

// check_elf_plugin on the file at `path` (mapped read-only), or why it cannot
// be read ("not a regular file; ...", "cannot be opened: ...").
std::string check_elf_plugin_file(const std::string& path);

// The architecture of this process as check_elf_plugin names it ("x86_64").
std::string host_machine_name();

}  // namespace trainrt
