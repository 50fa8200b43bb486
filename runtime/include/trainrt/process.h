// Process-level measurements for benchmarks and progress lines: time since the
// process started (Linux: from /proc/self/stat, so exec and dynamic loading
// count too) and peak resident memory.
#pragma once
#include <cstdint>

namespace trainrt {

double seconds_since_process_start();
int64_t peak_rss_bytes();

}  // namespace trainrt
