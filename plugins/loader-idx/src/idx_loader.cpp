// loader-idx: the "idx" data loader. Options "images=PATH;labels=PATH" (either
// may be left out, not both); fields: image uint8 (rows, cols) and label int64
// scalar, in that order when both are given. Files are decompressed once at
// open; read() is a memcpy from memory and safe from many threads.
// Deliberately not a general IDX reader: uint8 images (idx3) and labels (idx1).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>

#include "idx_file.h"
#include "trainrt/plugin_abi.h"
#include "trt_plugin_util/options.h"

namespace {

using trt_idx::IdxFile;

struct IdxDataset {
  std::optional<IdxFile> images;  // (N, rows, cols)
  std::optional<IdxFile> labels;  // (N)
  int64_t length = 0;
};

void set_error(char* error, size_t capacity, const std::string& message) {
  if (error && capacity) std::snprintf(error, capacity, "%s", message.c_str());
}

std::unique_ptr<IdxDataset> open_dataset(const std::string& options) {
  auto opts = trt_plugin_util::parse_options(options);
  auto ds = std::make_unique<IdxDataset>();
  for (const auto& [key, value] : opts)
    if (key != "images" && key != "labels")
      throw std::runtime_error("idx loader: unknown option '" + key + "' (known: images, labels)");
  auto get = [&](const char* key) { auto it = opts.find(key); return it == opts.end() ? std::string() : it->second; };
  std::string images = get("images"), labels = get("labels");
  if (images.empty() && labels.empty())
    throw std::runtime_error("idx loader: give images=PATH and/or labels=PATH (options were '" + options + "')");
  if (!images.empty()) ds->images = trt_idx::read_idx(images, 3, "images");
  if (!labels.empty()) ds->labels = trt_idx::read_idx(labels, 1, "labels");
  if (ds->images && ds->labels && ds->images->count() != ds->labels->count())
    throw std::runtime_error("idx loader: image/label count mismatch: " + std::to_string(ds->images->count()) +
                             " images in " + images + " but " + std::to_string(ds->labels->count()) + " labels in " +
                             labels);
  ds->length = ds->images ? ds->images->count() : ds->labels->count();
  return ds;
}

// Field k of the dataset: images first when present, then labels.
const IdxFile* field_file(const IdxDataset* ds, int32_t field) {
  if (ds->images) {
    if (field == 0) return &*ds->images;
    --field;
  }
  if (ds->labels && field == 0) return &*ds->labels;
  return nullptr;
}

trt_status idx_open(const char* options, void** handle, char* error, size_t capacity) {
  try {
    *handle = open_dataset(options ? options : "").release();
    return TRT_OK;
  } catch (const std::bad_alloc&) {
    set_error(error, capacity, "idx loader: out of memory reading the dataset");
    return TRT_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error(error, capacity, e.what());
    return TRT_ERR_IO;
  } catch (...) {
    set_error(error, capacity, "idx loader: unknown error");
    return TRT_ERR_INTERNAL;
  }
}

int64_t idx_length(void* handle) { return static_cast<IdxDataset*>(handle)->length; }

int32_t idx_num_fields(void* handle) {
  auto* ds = static_cast<IdxDataset*>(handle);
  return (ds->images ? 1 : 0) + (ds->labels ? 1 : 0);
}

trt_status idx_field_spec(void* handle, int32_t field, trt_sample_spec* spec) {
  const IdxFile* f = field_file(static_cast<IdxDataset*>(handle), field);
  if (!f || !spec) return TRT_ERR_INVALID_ARGUMENT;
  uint32_t size = spec->struct_size;
  std::memset(spec, 0, std::min<size_t>(size, sizeof(trt_sample_spec)));
  spec->struct_size = size;
  if (f->sizes.size() == 1) {  // labels: one int64 class index per sample
    spec->dtype = TRT_INT64;
    spec->ndim = 0;
  } else {  // images: (rows, cols) uint8
    spec->dtype = TRT_UINT8;
    spec->ndim = static_cast<int32_t>(f->sizes.size() - 1);
    for (int32_t d = 0; d < spec->ndim; ++d) spec->sizes[d] = f->sizes[d + 1];
  }
  return TRT_OK;
}

trt_status idx_read(void* handle, int64_t index, int32_t field, void* dst, char* error, size_t capacity) {
  auto* ds = static_cast<IdxDataset*>(handle);
  const IdxFile* f = field_file(ds, field);
  if (!f) {
    set_error(error, capacity, "idx loader: no field " + std::to_string(field));
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (index < 0 || index >= ds->length) {
    set_error(error, capacity,
              "idx loader: sample index " + std::to_string(index) + " out of range [0, " + std::to_string(ds->length) +
                  ") in " + f->path);
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (f->sizes.size() == 1)
    *static_cast<int64_t*>(dst) = *f->item(index);
  else
    std::memcpy(dst, f->item(index), static_cast<size_t>(f->item_bytes()));
  return TRT_OK;
}

void idx_close(void* handle) { delete static_cast<IdxDataset*>(handle); }

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t capacity) {
  info->name = "loader-idx";
  info->version = "0.1.0";
  info->description = "IDX files (MNIST family), plain or .gz";
  static trt_loader_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "idx";
  def.open = idx_open;
  def.length = idx_length;
  def.num_fields = idx_num_fields;
  def.field_spec = idx_field_spec;
  def.read = idx_read;
  def.close = idx_close;
  trt_status s = host->register_loader(host->host, &def);
  if (s != TRT_OK) set_error(error, capacity, "loader-idx: the host refused the 'idx' loader");
  return s;
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
