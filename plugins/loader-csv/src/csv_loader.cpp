// loader-csv: the "csv" data loader. Options "path=FILE;label=COLUMN" (label
// optional); fields: features float32 (F) — every column but the label, in file
// order — then label int64 scalar. The table is parsed once at open; read() is
// a memcpy and safe from many threads.
// Deliberately not a general CSV reader (no quotes, no text columns).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>

#include "csv_table.h"
#include "trainrt/plugin_abi.h"
#include "trt_plugin_util/options.h"

namespace {

using trt_csv::CsvTable;

void set_error(char* error, size_t capacity, const std::string& message) {
  if (error && capacity) std::snprintf(error, capacity, "%s", message.c_str());
}

std::unique_ptr<CsvTable> open_table(const std::string& options) {
  auto opts = trt_plugin_util::parse_options(options);
  for (const auto& [key, value] : opts)
    if (key != "path" && key != "label")
      throw std::runtime_error("csv loader: unknown option '" + key + "' (known: path, label)");
  auto path = opts.find("path");
  if (path == opts.end() || path->second.empty())
    throw std::runtime_error("csv loader: give path=FILE (options were '" + options + "')");
  auto label = opts.find("label");
  return std::make_unique<CsvTable>(trt_csv::read_csv(path->second, label == opts.end() ? "" : label->second));
}

trt_status csv_open(const char* options, void** handle, char* error, size_t capacity) {
  try {
    *handle = open_table(options ? options : "").release();
    return TRT_OK;
  } catch (const std::bad_alloc&) {
    set_error(error, capacity, "csv loader: out of memory reading the table");
    return TRT_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_error(error, capacity, e.what());
    return TRT_ERR_IO;
  } catch (...) {
    set_error(error, capacity, "csv loader: unknown error");
    return TRT_ERR_INTERNAL;
  }
}

int64_t csv_length(void* handle) { return static_cast<CsvTable*>(handle)->rows; }

int32_t csv_num_fields(void* handle) { return static_cast<CsvTable*>(handle)->label_name.empty() ? 1 : 2; }

trt_status csv_field_spec(void* handle, int32_t field, trt_sample_spec* spec) {
  auto* t = static_cast<CsvTable*>(handle);
  if (!spec || field < 0 || field >= csv_num_fields(handle)) return TRT_ERR_INVALID_ARGUMENT;
  uint32_t size = spec->struct_size;
  std::memset(spec, 0, std::min<size_t>(size, sizeof(trt_sample_spec)));
  spec->struct_size = size;
  if (field == 0) {  // features: (F) float32
    spec->dtype = TRT_FLOAT32;
    spec->ndim = 1;
    spec->sizes[0] = static_cast<int64_t>(t->feature_names.size());
  } else {  // label: int64 scalar
    spec->dtype = TRT_INT64;
    spec->ndim = 0;
  }
  return TRT_OK;
}

trt_status csv_read(void* handle, int64_t index, int32_t field, void* dst, char* error, size_t capacity) {
  auto* t = static_cast<CsvTable*>(handle);
  if (field < 0 || field >= csv_num_fields(handle)) {
    set_error(error, capacity, "csv loader: no field " + std::to_string(field));
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (index < 0 || index >= t->rows) {
    set_error(error, capacity,
              "csv loader: row index " + std::to_string(index) + " out of range [0, " + std::to_string(t->rows) + ")");
    return TRT_ERR_INVALID_ARGUMENT;
  }
  if (field == 0) {
    const size_t f = t->feature_names.size();
    std::memcpy(dst, t->features.data() + index * f, f * sizeof(float));
  } else {
    *static_cast<int64_t*>(dst) = t->labels[index];
  }
  return TRT_OK;
}

void csv_close(void* handle) { delete static_cast<CsvTable*>(handle); }

trt_status init(const trt_host_api* host, trt_plugin_info* info, char* error, size_t capacity) {
  info->name = "loader-csv";
  info->version = "0.1.0";
  info->description = "numeric CSV tables with a header and a label column";
  static trt_loader_def def{};
  def.struct_size = sizeof(def);
  def.abi_version = TRT_PLUGIN_ABI_VERSION;
  def.name = "csv";
  def.open = csv_open;
  def.length = csv_length;
  def.num_fields = csv_num_fields;
  def.field_spec = csv_field_spec;
  def.read = csv_read;
  def.close = csv_close;
  trt_status s = host->register_loader(host->host, &def);
  if (s != TRT_OK) set_error(error, capacity, "loader-csv: the host refused the 'csv' loader");
  return s;
}

}  // namespace

TRT_PLUGIN_EXPORT(init)
