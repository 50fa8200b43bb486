// trainrt.core._data: the native half of trainrt.data (scripts/trainrt/data.lua
// is the other). Dataset and DataLoader handles are full userdata whose __gc
// runs the C++ destructor: the loader plugin handle closes when the last
// dataset/loader using it is collected, and a loader's worker threads stop.
// Deliberately thin: option parsing of the Lua tables and conversions only;
// the behaviour lives in runtime/data.
#include <cmath>
#include <new>
#include <optional>
#include <string>

#include "lua/bindings.h"
#include "lua/lua_util.h"
#include "trainrt/data/collate.h"
#include "trainrt/data/data_loader.h"
#include "trainrt/error.h"
#include "trainrt/plugins.h"

namespace trainrt::lua {
namespace {

using data::DataLoader;
using data::DataLoaderOptions;
using data::Dataset;

constexpr const char* kDatasetMeta = "trainrt.data.Dataset";
constexpr const char* kLoaderMeta = "trainrt.data.DataLoader";

// A Dataset userdata holds an optional that __gc empties: a finalizer running
// later in the same cycle may still reach the userdata and must find it empty,
// not destroyed (an empty optional owns nothing, so Lua can drop the block).
using DatasetSlot = std::optional<Dataset>;

void push_dataset(lua_State* L, Dataset ds) {
  new (lua_newuserdatauv(L, sizeof(DatasetSlot), 0)) DatasetSlot(std::move(ds));
  luaL_setmetatable(L, kDatasetMeta);
}

Dataset& check_dataset(lua_State* L, int idx) {
  auto* slot = static_cast<DatasetSlot*>(luaL_checkudata(L, idx, kDatasetMeta));
  if (!slot->has_value()) luaL_argerror(L, idx, "dataset was already collected");
  return **slot;
}

// A DataLoader userdata holds a pointer so that __gc can run before the
// object is fully gone and a closed handle reads as null.
DataLoader*& loader_slot(lua_State* L, int idx) {
  return *static_cast<DataLoader**>(luaL_checkudata(L, idx, kLoaderMeta));
}

DataLoader& check_loader(lua_State* L, int idx) {
  DataLoader* loader = loader_slot(L, idx);
  if (!loader) luaL_argerror(L, idx, "data loader was closed");
  return *loader;
}

// 1-based Lua index into a dataset of n -> 0-based.
int64_t check_index(lua_State* L, int idx, int64_t n) {
  lua_Integer i = luaL_checkinteger(L, idx);
  TRT_CHECK(i >= 1 && i <= n, "index ", i, " out of range [1, ", n, "] of a dataset of ", n, " samples");
  return i - 1;
}

// -- dataset ------------------------------------------------------------------

// _data.open(loader_name, options_string) -> dataset
int data_open(lua_State* L) {
  std::string loader = luaL_checkstring(L, 1);
  std::string options = luaL_optstring(L, 2, "");
  push_dataset(L, Dataset::open(loader, options));
  return 1;
}

// _data.loaders() -> {"csv", "idx", ...}
int data_loaders(lua_State* L) {
  auto names = loader_names();
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    lua_pushstring(L, names[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int dataset_len(lua_State* L) {
  lua_pushinteger(L, check_dataset(L, 1).size());
  return 1;
}

// ds:get(i) -> x, y (one tensor per field; images float32 (1, H, W) in [0, 1], labels int64 scalar)
int dataset_get(lua_State* L) {
  Dataset& ds = check_dataset(L, 1);
  std::vector<Tensor> sample = data::example(ds, check_index(L, 2, ds.size()));
  for (const Tensor& t : sample) push_tensor(L, t);
  return static_cast<int>(sample.size());
}

// ds:subset(n) (the first n) or ds:subset{i1, i2, ...} (1-based) -> dataset
int dataset_subset(lua_State* L) {
  Dataset& ds = check_dataset(L, 1);
  if (lua_istable(L, 2)) {
    std::vector<int64_t> indices;
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer k = 1; k <= n; ++k) {
      lua_geti(L, 2, k);
      int isnum = 0;
      lua_Integer i = lua_tointegerx(L, -1, &isnum);
      lua_pop(L, 1);
      TRT_CHECK(isnum, "subset: index #", k, " is not an integer");
      TRT_CHECK(i >= 1 && i <= ds.size(), "subset: index ", i, " out of range [1, ", ds.size(), "]");
      indices.push_back(i - 1);
    }
    push_dataset(L, ds.subset(indices));
  } else {
    push_dataset(L, ds.subset(static_cast<int64_t>(luaL_checkinteger(L, 2))));
  }
  return 1;
}

// ds:fields() -> { {dtype="uint8", shape={28, 28}}, {dtype="int64", shape={}} }
int dataset_fields(lua_State* L) {
  Dataset& ds = check_dataset(L, 1);
  lua_createtable(L, ds.num_fields(), 0);
  for (int k = 0; k < ds.num_fields(); ++k) {
    const data::FieldSpec& f = ds.field(k);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, dtype_name(f.dtype));
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, static_cast<int>(f.sizes.size()), 0);
    for (size_t d = 0; d < f.sizes.size(); ++d) {
      lua_pushinteger(L, f.sizes[d]);
      lua_rawseti(L, -2, static_cast<lua_Integer>(d + 1));
    }
    lua_setfield(L, -2, "shape");
    lua_rawseti(L, -2, k + 1);
  }
  return 1;
}

int dataset_loader_name(lua_State* L) {
  lua_pushstring(L, check_dataset(L, 1).loader_name().c_str());
  return 1;
}

int dataset_tostring(lua_State* L) {
  Dataset& ds = check_dataset(L, 1);
  lua_pushfstring(L, "Dataset(%s, %d samples)", ds.loader_name().c_str(), static_cast<int>(ds.size()));
  return 1;
}

int dataset_gc(lua_State* L) {
  static_cast<DatasetSlot*>(luaL_checkudata(L, 1, kDatasetMeta))->reset();
  return 0;
}

// -- data loader --------------------------------------------------------------

std::vector<double> number_or_list(lua_State* L, int idx, const char* what) {
  std::vector<double> out;
  if (lua_isnumber(L, idx)) {
    out.push_back(lua_tonumber(L, idx));
  } else if (lua_istable(L, idx)) {
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer k = 1; k <= n; ++k) {
      lua_geti(L, idx, k);
      TRT_CHECK(lua_isnumber(L, -1), "DataLoader: normalize.", what, "[", k, "] is not a number");
      out.push_back(lua_tonumber(L, -1));
      lua_pop(L, 1);
    }
  } else {
    fail(std::string("DataLoader: normalize.") + what + " must be a number or a list of numbers");
  }
  return out;
}

int64_t integer_option(lua_State* L, int idx, const std::string& key) {
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isnum);
  TRT_CHECK(isnum, "DataLoader: ", key, " must be an integer, got ", luaL_typename(L, idx));
  return v;
}

bool boolean_option(lua_State* L, int idx, const std::string& key) {
  TRT_CHECK(lua_isboolean(L, idx), "DataLoader: ", key, " must be true or false, got ", luaL_typename(L, idx));
  return lua_toboolean(L, idx);
}

// Reads the options table at idx; unknown keys are errors (a typo should not
// silently train with defaults).
DataLoaderOptions check_loader_options(lua_State* L, int idx) {
  DataLoaderOptions o;
  if (lua_isnoneornil(L, idx)) return o;
  luaL_checktype(L, idx, LUA_TTABLE);
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    TRT_CHECK(lua_type(L, -2) == LUA_TSTRING, "DataLoader: option keys must be names");
    std::string key = lua_tostring(L, -2);
    if (key == "batch_size") o.batch_size = integer_option(L, -1, key);
    else if (key == "shuffle") o.shuffle = boolean_option(L, -1, key);
    else if (key == "seed") o.seed = static_cast<uint64_t>(integer_option(L, -1, key));
    else if (key == "drop_last") o.drop_last = boolean_option(L, -1, key);
    else if (key == "workers") o.workers = integer_option(L, -1, key);
    else if (key == "prefetch_factor") o.prefetch_factor = integer_option(L, -1, key);
    else if (key == "num_replicas") o.num_replicas = integer_option(L, -1, key);
    else if (key == "rank") o.rank = integer_option(L, -1, key);
    else if (key == "pad") o.pad = boolean_option(L, -1, key);
    else if (key == "normalize") {
      TRT_CHECK(lua_istable(L, -1), "DataLoader: normalize must be a table {mean=, std=}");
      lua_getfield(L, -1, "mean");
      o.normalize.mean = number_or_list(L, -1, "mean");
      lua_pop(L, 1);
      lua_getfield(L, -1, "std");
      o.normalize.std = number_or_list(L, -1, "std");
      lua_pop(L, 1);
    } else {
      fail("DataLoader: unknown option '" + key +
           "' (known: batch_size, shuffle, seed, drop_last, workers, prefetch_factor, normalize, num_replicas, rank, pad)");
    }
    lua_pop(L, 1);
  }
  return o;
}

// _data.loader(dataset, options_table) -> loader
int data_loader(lua_State* L) {
  Dataset& ds = check_dataset(L, 1);
  DataLoaderOptions options = check_loader_options(L, 2);
  auto** slot = static_cast<DataLoader**>(lua_newuserdatauv(L, sizeof(DataLoader*), 0));
  *slot = nullptr;
  luaL_setmetatable(L, kLoaderMeta);
  *slot = new DataLoader(ds, std::move(options));
  return 1;
}

int loader_len(lua_State* L) {
  lua_pushinteger(L, check_loader(L, 1).size());
  return 1;
}

int push_batch(lua_State* L, DataLoader& loader) {
  std::vector<Tensor> batch;
  if (!loader.next(batch)) {
    lua_pushnil(L);
    return 1;
  }
  for (const Tensor& t : batch) push_tensor(L, t);
  return static_cast<int>(batch.size());
}

// `for x, y in loader do` calls loader(nil, control): control is nil on the
// first call of a for loop (start a new epoch, abandoning an unfinished one)
// and the previous x afterwards (continue).
int loader_call(lua_State* L) {
  DataLoader& loader = check_loader(L, 1);
  if (lua_isnoneornil(L, 3)) loader.begin_epoch();
  return push_batch(L, loader);  // nil once the pass is over (or failed)
}

// loader:next() -> x, y or nil at the end of the epoch (starts one when none runs)
int loader_next(lua_State* L) {
  DataLoader& loader = check_loader(L, 1);
  if (!loader.in_epoch()) loader.begin_epoch();
  return push_batch(L, loader);
}

// loader:set_epoch(e): the epoch (0-based, like torch) the next pass uses
int loader_set_epoch(lua_State* L) {
  lua_Integer e = luaL_checkinteger(L, 2);
  TRT_CHECK(e >= 0, "set_epoch: epoch must be >= 0, got ", e);
  check_loader(L, 1).set_epoch(static_cast<uint64_t>(e));
  return 0;
}

int loader_epoch(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_loader(L, 1).epoch()));
  return 1;
}

int loader_dataset(lua_State* L) {
  push_dataset(L, check_loader(L, 1).dataset());
  return 1;
}

int loader_batch_size(lua_State* L) {
  lua_pushinteger(L, check_loader(L, 1).options().batch_size);
  return 1;
}

void push_numbers(lua_State* L, const std::vector<double>& values) {
  lua_createtable(L, static_cast<int>(values.size()), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    lua_pushnumber(L, values[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
}

// loader:options() -> the options table it was built with (seed resolved), so a
// strategy can build this rank's shard of the same loader.
int loader_options(lua_State* L) {
  DataLoader& loader = check_loader(L, 1);
  const DataLoaderOptions& o = loader.options();
  lua_createtable(L, 0, 10);
  auto set_integer = [&](const char* key, int64_t v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
  };
  auto set_boolean = [&](const char* key, bool v) {
    lua_pushboolean(L, v);
    lua_setfield(L, -2, key);
  };
  set_integer("batch_size", o.batch_size);
  set_boolean("shuffle", o.shuffle);
  set_integer("seed", static_cast<int64_t>(loader.seed()));
  set_boolean("drop_last", o.drop_last);
  set_integer("workers", o.workers);
  set_integer("prefetch_factor", o.prefetch_factor);
  set_integer("num_replicas", o.num_replicas);
  set_integer("rank", o.rank);
  set_boolean("pad", o.pad);
  if (!o.normalize.mean.empty()) {
    lua_createtable(L, 0, 2);
    push_numbers(L, o.normalize.mean);
    lua_setfield(L, -2, "mean");
    push_numbers(L, o.normalize.std);
    lua_setfield(L, -2, "std");
    lua_setfield(L, -2, "normalize");
  }
  return 1;
}

// loader:state_dict() -> {epoch=, batch=, batch_size=, num_replicas=, seed=, samples=}: where the
// loader stands (the epoch of the pass in flight and the batches it gave, 0-based), for checkpoints.
int loader_state_dict(lua_State* L) {
  DataLoader::State s = check_loader(L, 1).state();
  lua_createtable(L, 0, 6);
  auto set = [&](const char* key, int64_t v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
  };
  set("epoch", static_cast<int64_t>(s.epoch));
  set("batch", s.batch);
  set("batch_size", s.batch_size);
  set("num_replicas", s.num_replicas);
  set("seed", static_cast<int64_t>(s.seed));  // the bits of the uint64 seed, exact in a Lua integer
  set("samples", s.samples);
  return 1;
}

int64_t state_field(lua_State* L, int idx, const char* key) {
  lua_getfield(L, idx, key);
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 1);
  TRT_CHECK(isnum, "DataLoader:load_state_dict: field '", key, "' must be an integer");
  return v;
}

// loader:load_state_dict(sd): the next pass continues where sd stopped (see
// DataLoader::load_state); returns a warning string, or nil.
int loader_load_state_dict(lua_State* L) {
  DataLoader& loader = check_loader(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  DataLoader::State s;
  s.epoch = static_cast<uint64_t>(state_field(L, 2, "epoch"));
  s.batch = state_field(L, 2, "batch");
  s.batch_size = state_field(L, 2, "batch_size");
  s.num_replicas = state_field(L, 2, "num_replicas");
  s.seed = static_cast<uint64_t>(state_field(L, 2, "seed"));
  s.samples = state_field(L, 2, "samples");
  std::string warning = loader.load_state(s);
  if (warning.empty()) lua_pushnil(L);
  else lua_pushstring(L, warning.c_str());
  return 1;
}

int loader_seed(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(check_loader(L, 1).seed()));
  return 1;
}

// loader:close(): stops workers and releases the dataset now (also __gc/__close)
int loader_close(lua_State* L) {
  DataLoader*& slot = loader_slot(L, 1);
  delete slot;
  slot = nullptr;
  return 0;
}

int loader_tostring(lua_State* L) {
  DataLoader* loader = loader_slot(L, 1);
  if (!loader) {
    lua_pushstring(L, "DataLoader(closed)");
    return 1;
  }
  const DataLoaderOptions& o = loader->options();
  lua_pushfstring(L, "DataLoader(%s, %d samples, batch_size=%d, %d batches, workers=%d)",
                  loader->dataset().loader_name().c_str(), static_cast<int>(loader->dataset().size()),
                  static_cast<int>(o.batch_size), static_cast<int>(loader->size()), static_cast<int>(o.workers));
  return 1;
}

void new_metatable(lua_State* L, const char* name, const luaL_Reg* methods, const luaL_Reg* metamethods) {
  luaL_newmetatable(L, name);
  set_functions(L, metamethods);
  lua_newtable(L);
  set_functions(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace

void bind_data(lua_State* L) {
  static const luaL_Reg dataset_methods[] = {{"get", guarded<dataset_get>},
                                             {"subset", guarded<dataset_subset>},
                                             {"fields", guarded<dataset_fields>},
                                             {"loader_name", guarded<dataset_loader_name>},
                                             {"size", guarded<dataset_len>},
                                             {nullptr, nullptr}};
  static const luaL_Reg dataset_meta[] = {{"__len", guarded<dataset_len>},
                                          {"__tostring", guarded<dataset_tostring>},
                                          {"__gc", dataset_gc},
                                          {nullptr, nullptr}};
  new_metatable(L, kDatasetMeta, dataset_methods, dataset_meta);

  static const luaL_Reg loader_methods[] = {{"next", guarded<loader_next>},
                                            {"set_epoch", guarded<loader_set_epoch>},
                                            {"epoch", guarded<loader_epoch>},
                                            {"dataset", guarded<loader_dataset>},
                                            {"batch_size", guarded<loader_batch_size>},
                                            {"seed", guarded<loader_seed>},
                                            {"options", guarded<loader_options>},
                                            {"state_dict", guarded<loader_state_dict>},
                                            {"load_state_dict", guarded<loader_load_state_dict>},
                                            {"close", guarded<loader_close>},
                                            {nullptr, nullptr}};
  static const luaL_Reg loader_meta[] = {{"__len", guarded<loader_len>},
                                         {"__call", guarded<loader_call>},
                                         {"__tostring", guarded<loader_tostring>},
                                         {"__gc", guarded<loader_close>},
                                         {"__close", guarded<loader_close>},
                                         {nullptr, nullptr}};
  new_metatable(L, kLoaderMeta, loader_methods, loader_meta);

  static const luaL_Reg functions[] = {{"open", guarded<data_open>},
                                       {"loader", guarded<data_loader>},
                                       {"loaders", guarded<data_loaders>},
                                       {nullptr, nullptr}};
  lua_newtable(L);
  set_functions(L, functions);
  lua_setfield(L, -2, "_data");
}

}  // namespace trainrt::lua
