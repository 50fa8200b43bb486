// trainrt.core._checkpoint: the native half of trainrt.checkpoint
// (scripts/trainrt/checkpoint/ is the other): safetensors read/write, tensor
// names Lua <-> file, Lua values <-> JSON, the generators' state, and the few
// file-system calls Lua lacks (list, remove, mkdir). Deliberately no policy:
// what goes into a checkpoint and when is decided in Lua.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "lua/bindings.h"
#include "lua/json_value.h"
#include "lua/lua_util.h"
#include "trainrt/checkpoint/atomic_file.h"
#include "trainrt/checkpoint/names.h"
#include "trainrt/checkpoint/safetensors.h"
#include "trainrt/error.h"
#include "trainrt/ops/creation.h"

namespace trainrt::lua {
namespace {

namespace ck = trainrt::checkpoint;

std::string check_string(lua_State* L, int idx) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, idx, &len);
  return std::string(s, len);
}

// _checkpoint.write(path, {{name, tensor}, ...}, {key = "value"}): one safetensors file, atomically.
int l_write(lua_State* L) {
  std::string path = check_string(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<std::pair<std::string, Tensor>> tensors;
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, 2, i);
    TRT_CHECK(lua_istable(L, -1), path, ": entry ", i, " must be {name, tensor}");
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    TRT_CHECK(lua_type(L, -2) == LUA_TSTRING, path, ": entry ", i, " has no name");
    std::string name = lua_tostring(L, -2);
    TRT_CHECK(is_tensor(L, -1), path, ": '", name, "' is not a tensor");
    tensors.emplace_back(name, check_tensor(L, lua_gettop(L)));
    lua_pop(L, 3);
  }
  std::map<std::string, std::string> metadata;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      TRT_CHECK(lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING, path,
                ": metadata must map strings to strings");
      metadata[lua_tostring(L, -2)] = check_string(L, -1);
      lua_pop(L, 1);
    }
  }
  ck::write_file(path, tensors, metadata);
  return 0;
}

void push_metadata(lua_State* L, const ck::Header& h) {
  lua_createtable(L, 0, static_cast<int>(h.metadata.size()));
  for (const auto& [key, value] : h.metadata) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, key.c_str());
  }
}

// _checkpoint.read(path) -> {{name, tensor}, ...} (in file order), metadata
int l_read(lua_State* L) {
  ck::File f = ck::read_file(check_string(L, 1));
  lua_createtable(L, static_cast<int>(f.tensors.size()), 0);
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    lua_createtable(L, 2, 0);
    lua_pushlstring(L, f.tensors[i].first.data(), f.tensors[i].first.size());
    lua_rawseti(L, -2, 1);
    push_tensor(L, f.tensors[i].second);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  push_metadata(L, f.header);
  return 2;
}

// _checkpoint.header(path) -> {tensors = {{name=, dtype=, shape=, bytes=}, ...}, metadata = {...}}
// (validated; the data is not read)
int l_header(lua_State* L) {
  ck::Header h = ck::read_header(check_string(L, 1));
  lua_createtable(L, 0, 2);
  lua_createtable(L, static_cast<int>(h.tensors.size()), 0);
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const ck::TensorRecord& r = h.tensors[i];
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, r.name.data(), r.name.size());
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r.dtype.c_str());
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, static_cast<int>(r.shape.size()), 0);
    for (size_t d = 0; d < r.shape.size(); ++d) {
      lua_pushinteger(L, r.shape[d]);
      lua_rawseti(L, -2, static_cast<lua_Integer>(d + 1));
    }
    lua_setfield(L, -2, "shape");
    lua_pushinteger(L, static_cast<lua_Integer>(r.end - r.begin));
    lua_setfield(L, -2, "bytes");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "tensors");
  push_metadata(L, h);
  lua_setfield(L, -2, "metadata");
  return 1;
}

int l_file_name(lua_State* L) {
  lua_pushstring(L, ck::file_name_of(check_string(L, 1)).c_str());
  return 1;
}
int l_lua_name(lua_State* L) {
  lua_pushstring(L, ck::lua_name_of(check_string(L, 1)).c_str());
  return 1;
}

// _checkpoint.json_encode(value [, path]) -> string; path names the value in errors.
int l_json_encode(lua_State* L) {
  std::string path = luaL_optstring(L, 2, "value");
  std::string text;
  try {
    text = to_json(L, 1, path).dump();
  } catch (const nlohmann::json::exception& e) {  // strings that are not UTF-8
    fail("checkpoint: " + path + " cannot be stored as JSON: " + e.what());
  }
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// _checkpoint.json_decode(string [, where]) -> value; where names the source in errors.
int l_json_decode(lua_State* L) {
  std::string text = check_string(L, 1);
  std::string where = luaL_optstring(L, 2, "checkpoint");
  nlohmann::json j;
  auto depth_guard = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    TRT_CHECK(depth < 64, where, ": JSON nested more than 64 levels deep");
    return true;
  };
  try {
    j = nlohmann::json::parse(text, depth_guard);
  } catch (const nlohmann::json::exception& e) {
    fail(where + ": not valid JSON: " + e.what());
  }
  push_json(L, j);
  return 1;
}

// _checkpoint.generators() -> {default_seed =, devices = {{device = "cpu:0", seed =, offset =}, ...}}
// (uint64 values as the bits of Lua integers: exact)
int l_generators(lua_State* L) {
  GeneratorSnapshot s = generator_snapshot();
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, static_cast<lua_Integer>(s.default_seed));
  lua_setfield(L, -2, "default_seed");
  lua_createtable(L, static_cast<int>(s.devices.size()), 0);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, s.devices[i].first.str().c_str());
    lua_setfield(L, -2, "device");
    lua_pushinteger(L, static_cast<lua_Integer>(s.devices[i].second.seed));
    lua_setfield(L, -2, "seed");
    lua_pushinteger(L, static_cast<lua_Integer>(s.devices[i].second.offset));
    lua_setfield(L, -2, "offset");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "devices");
  return 1;
}

uint64_t integer_field(lua_State* L, int idx, const char* key) {
  lua_getfield(L, idx, key);
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 1);
  TRT_CHECK(isnum, "checkpoint: generator state field '", key, "' must be an integer");
  return static_cast<uint64_t>(v);
}

// _checkpoint.set_generators(t): t as generators() returns it.
int l_set_generators(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  GeneratorSnapshot s;
  s.default_seed = integer_field(L, 1, "default_seed");
  lua_getfield(L, 1, "devices");
  TRT_CHECK(lua_istable(L, -1), "checkpoint: generator state has no devices list");
  int devices = lua_gettop(L);
  lua_Integer n = luaL_len(L, devices);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, devices, i);
    int entry = lua_gettop(L);
    TRT_CHECK(lua_istable(L, entry), "checkpoint: generator entry ", i, " is not a table");
    lua_getfield(L, entry, "device");
    TRT_CHECK(lua_type(L, -1) == LUA_TSTRING, "checkpoint: generator entry ", i, " has no device name");
    Device device = Device::parse(lua_tostring(L, -1));
    lua_pop(L, 1);
    s.devices.emplace_back(device, GeneratorState{integer_field(L, entry, "seed"), integer_field(L, entry, "offset")});
    lua_pop(L, 1);
  }
  restore_generators(s);
  return 0;
}

// _checkpoint.listdir(dir) -> {name, ...} (sorted; nil, message when dir cannot be read)
int l_listdir(lua_State* L) {
  std::string dir = check_string(L, 1);
  std::error_code ec;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) {
    lua_pushnil(L);
    lua_pushstring(L, (dir + ": " + ec.message()).c_str());
    return 2;
  }
  std::sort(names.begin(), names.end());
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    lua_pushstring(L, names[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// _checkpoint.remove(path): unlinks path (missing is fine) and syncs its directory.
int l_remove(lua_State* L) {
  std::string path = check_string(L, 1);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail(path + ": cannot remove: " + std::strerror(errno));
  ck::fsync_directory(ck::directory_of(path));
  return 0;
}

// _checkpoint.makedirs(dir): creates dir and its parents (like mkdir -p).
int l_makedirs(lua_State* L) {
  std::string dir = check_string(L, 1);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  TRT_CHECK(!ec, dir, ": cannot create the checkpoint directory: ", ec.message());
  TRT_CHECK(std::filesystem::is_directory(dir, ec), dir, ": exists and is not a directory");
  return 0;
}

// _checkpoint.kind(path) -> "file", "directory", "other" or nil (missing)
int l_kind(lua_State* L) {
  struct stat st {};
  if (::stat(check_string(L, 1).c_str(), &st) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  return 1;
}

// _checkpoint.new_id() -> 16 random hex digits (names a save's state file).
int l_new_id(lua_State* L) {
  std::random_device device;
  uint64_t v = (static_cast<uint64_t>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  lua_pushstring(L, text);
  return 1;
}

const luaL_Reg kFunctions[] = {
    {"write", guarded<l_write>},
    {"read", guarded<l_read>},
    {"header", guarded<l_header>},
    {"file_name", guarded<l_file_name>},
    {"lua_name", guarded<l_lua_name>},
    {"json_encode", guarded<l_json_encode>},
    {"json_decode", guarded<l_json_decode>},
    {"generators", guarded<l_generators>},
    {"set_generators", guarded<l_set_generators>},
    {"listdir", guarded<l_listdir>},
    {"remove", guarded<l_remove>},
    {"makedirs", guarded<l_makedirs>},
    {"kind", guarded<l_kind>},
    {"new_id", guarded<l_new_id>},
    {nullptr, nullptr},
};

}  // namespace

void bind_checkpoint(lua_State* L) {
  lua_newtable(L);
  set_functions(L, kFunctions);
  lua_setfield(L, -2, "_checkpoint");
}

}  // namespace trainrt::lua
