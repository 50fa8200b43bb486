// CUDA_VISIBLE_DEVICES as the driver reads it: a comma-separated list of
// physical indices or GPU UUIDs (full, or a unique prefix such as the
// "GPU-8a1f" Docker's --gpus '"device=GPU-8a1f..."' passes); the list ends at
// the first entry that is invalid, out of range, or repeats a device. The
// driver does the mapping itself; trainrt reproduces it to explain which
// physical GPU cuda:N is (`trainrt devices`, error messages, doctor).
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "trainrt/devices.h"

namespace trainrt {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

VisibleDevices parse_visible_devices(const char* value) {
  VisibleDevices v;
  if (!value) {
    v.text = "unset";
    return v;
  }
  v.set = true;
  v.text = value;
  std::string text = value;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string entry = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (entry.empty()) break;  // "0,,1" and "" end the list, as in the driver
    v.entries.push_back(entry);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return v;
}

VisibleDevices visible_devices_from_env() { return parse_visible_devices(std::getenv("CUDA_VISIBLE_DEVICES")); }

std::vector<int> map_visible_devices(const VisibleDevices& visible, const std::vector<std::string>& physical_uuids,
                                     std::string* problem) {
  std::vector<int> out;
  int physical = static_cast<int>(physical_uuids.size());
  if (!visible.set) {
    for (int i = 0; i < physical; ++i) out.push_back(i);
    return out;
  }
  auto stop = [&](const std::string& why) {
    if (problem) *problem = why;
    return out;
  };
  for (size_t k = 0; k < visible.entries.size(); ++k) {
    const std::string& entry = visible.entries[k];
    int index = -1;
    if (all_digits(entry)) {
      index = entry.size() < 6 ? std::atoi(entry.c_str()) : physical;
      if (index >= physical)
        return stop("entry " + std::to_string(k) + " '" + entry + "' is out of range: the machine has " +
                    std::to_string(physical) + " GPU" + (physical == 1 ? "" : "s"));
    } else {
      // A UUID or a unique prefix of one; "GPU-" may be left out.
      std::string want = entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0 ? entry : "GPU-" + entry;
      int matches = 0;
      for (int i = 0; i < physical; ++i)
        if (physical_uuids[i].rfind(want, 0) == 0) {
          index = i;
          ++matches;
        }
      if (matches == 0) return stop("entry " + std::to_string(k) + " '" + entry + "' matches no GPU's UUID");
      if (matches > 1) return stop("entry " + std::to_string(k) + " '" + entry + "' matches several GPUs' UUIDs");
    }
    if (std::find(out.begin(), out.end(), index) != out.end())
      return stop("entry " + std::to_string(k) + " '" + entry + "' names a GPU listed before");
    out.push_back(index);
  }
  if (problem) problem->clear();
  return out;
}

}  // namespace trainrt
