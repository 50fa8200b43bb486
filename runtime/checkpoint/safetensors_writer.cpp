// Writing safetensors files (see trainrt/checkpoint/safetensors.h): offsets
// from the shapes (largest elements first, so every tensor is aligned), the
// header as ordered JSON (__metadata__ first, then tensors in data order)
// padded to 8 bytes, then each tensor's host bytes, through an AtomicFile.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "trainrt/autograd.h"
#include "trainrt/checkpoint/atomic_file.h"
#include "trainrt/checkpoint/safetensors.h"
#include "trainrt/error.h"

namespace trainrt::checkpoint {

void write_file(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                const std::map<std::string, std::string>& metadata) {
  std::vector<size_t> order(tensors.size());
  std::set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    order[i] = i;
    const auto& [name, t] = tensors[i];
    TRT_CHECK(t.defined(), path, ": tensor '", name, "' is undefined (freed?)");
    TRT_CHECK(name != "__metadata__", path, ": '__metadata__' is reserved and cannot name a tensor");
    TRT_CHECK(names.insert(name).second, path, ": two tensors are named '", name, "'");
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const auto& [name, t] = tensors[i];
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                    {"shape", t.sizes()},
                    {"data_offsets", nlohmann::ordered_json::array({offset, offset + bytes})}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a name or a metadata value
    fail(path + ": cannot write the header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFile file(path);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  file.write(length, 8);
  file.write(text.data(), text.size());
  NoGradGuard no_grad;
  for (size_t i : order) {
    const Tensor& t = tensors[i].second;
    if (t.numel() == 0) continue;
    Tensor host = t.detach().to(Device::cpu()).contiguous();
    file.write(host.data_ptr(), static_cast<size_t>(host.numel()) * dtype_size(host.dtype()));
  }
  file.commit();
}

}  // namespace trainrt::checkpoint
