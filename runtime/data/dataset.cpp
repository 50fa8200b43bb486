// Dataset over an opened loader plugin; see trainrt/data/dataset.h.
#include "trainrt/data/dataset.h"

#include <utility>

#include "trainrt/error.h"
#include "trainrt/plugins.h"

namespace trainrt::data {

struct Dataset::Source {
  std::string loader;
  const trt_loader_def* def = nullptr;
  void* handle = nullptr;
  int64_t length = 0;
  std::vector<FieldSpec> fields;

  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (handle) def->close(handle);
  }
};

namespace {

std::string known_loaders() {
  std::string out;
  for (const auto& n : loader_names()) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

Dataset Dataset::open(const std::string& loader, const std::string& options) {
  const trt_loader_def* def = find_loader(loader);
  if (!def)
    fail("no data loader '" + loader + "': is the loader-" + loader +
         " plugin installed? (trainrt plugins; loaders available: " + known_loaders() + ")");
  auto src = std::make_shared<Source>();
  src->loader = loader;
  src->def = def;
  char error[1024] = {0};
  trt_status s = def->open(options.c_str(), &src->handle, error, sizeof error);
  if (s != TRT_OK) {
    src->handle = nullptr;
    fail(error[0] ? std::string(error) : loader + " loader: open failed with status " + std::to_string(s));
  }
  src->length = def->length(src->handle);
  int32_t nf = def->num_fields(src->handle);
  TRT_CHECK(src->length >= 0 && nf > 0, loader, " loader: reported ", src->length, " samples and ", nf, " fields");
  for (int32_t k = 0; k < nf; ++k) {
    trt_sample_spec spec{};
    spec.struct_size = sizeof spec;
    TRT_CHECK(def->field_spec(src->handle, k, &spec) == TRT_OK, loader, " loader: no spec for field ", k);
    TRT_CHECK(spec.ndim >= 0 && spec.ndim <= TRT_MAX_DIMS, loader, " loader: field ", k, " has ndim ", spec.ndim);
    FieldSpec f;
    f.dtype = static_cast<DType>(spec.dtype);
    TRT_CHECK(f.dtype == DType::Float32 || f.dtype == DType::Float64 || f.dtype == DType::Int64 ||
                  f.dtype == DType::UInt8,
              loader, " loader: field ", k, " has unsupported dtype ", spec.dtype);
    f.sizes.assign(spec.sizes, spec.sizes + spec.ndim);
    src->fields.push_back(std::move(f));
  }
  Dataset ds;
  ds.source_ = std::move(src);
  return ds;
}

int64_t Dataset::size() const {
  return indices_ ? static_cast<int64_t>(indices_->size()) : source_->length;
}

int Dataset::num_fields() const { return static_cast<int>(source_->fields.size()); }

const FieldSpec& Dataset::field(int k) const {
  TRT_CHECK(k >= 0 && k < num_fields(), "dataset field ", k, " out of range [0, ", num_fields(), ")");
  return source_->fields[k];
}

const std::string& Dataset::loader_name() const { return source_->loader; }

void Dataset::read(int64_t i, int k, void* dst) const {
  TRT_CHECK(i >= 0 && i < size(), "sample index ", i, " out of range [0, ", size(), ") of the ", source_->loader,
            " dataset");
  int64_t j = indices_ ? (*indices_)[i] : i;
  char error[1024] = {0};
  trt_status s = source_->def->read(source_->handle, j, k, dst, error, sizeof error);
  if (s != TRT_OK)
    fail(error[0] ? std::string(error)
                  : source_->loader + " loader: read of sample " + std::to_string(j) + " failed with status " +
                        std::to_string(s));
}

std::vector<Tensor> Dataset::get(int64_t i) const {
  std::vector<Tensor> out;
  for (int k = 0; k < num_fields(); ++k) {
    Tensor t = Tensor::empty(field(k).sizes, field(k).dtype);
    read(i, k, t.data_ptr());
    out.push_back(std::move(t));
  }
  return out;
}

Dataset Dataset::subset(int64_t n) const {
  TRT_CHECK(n >= 0 && n <= size(), "subset of ", n, " samples from a dataset of ", size());
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  return subset(idx);
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  auto mapped = std::make_shared<std::vector<int64_t>>();
  mapped->reserve(indices.size());
  for (int64_t i : indices) {
    TRT_CHECK(i >= 0 && i < size(), "subset index ", i, " out of range [0, ", size(), ")");
    mapped->push_back(indices_ ? (*indices_)[i] : i);
  }
  Dataset ds;
  ds.source_ = source_;
  ds.indices_ = std::move(mapped);
  return ds;
}

}  // namespace trainrt::data
