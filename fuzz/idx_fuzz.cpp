// Fuzzes the IDX reader of plugins/loader-idx (plain and gzip: inputs that
// start with 1f 8b are inflated). The first byte picks the expected rank (odd:
// images, 3 dims; even: labels, 1 dim). A malformed file must throw
// std::runtime_error with a message; a crash, an unbounded allocation
// (-rss_limit_mb) or any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "idx_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  int ndim = (data[0] & 1) ? 3 : 1;
  try {
    trt_idx::IdxFile file = trt_idx::parse_idx(data + 1, size - 1, ndim, ndim == 3 ? "images" : "labels", "fuzz.idx");
    // Touch every sample the header promises: they must lie inside the bytes.
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < file.count(); ++i)
      if (file.item_bytes() > 0) sink ^= file.item(i)[file.item_bytes() - 1];
    (void)sink;
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
  }
  return 0;
}
