// The out-of-memory report, the seeds' most common multi-GPU failure: which
// device and op, how much was asked for, what the device and trainrt's cache
// held, and what to change. CurrentOp lets the allocator name the op.
#include <cstdio>

#include "trainrt/devices.h"

namespace trainrt {
namespace {
thread_local const char* current_op = nullptr;
}  // namespace

CurrentOp::CurrentOp(const char* op) : previous_(current_op) { current_op = op; }
CurrentOp::~CurrentOp() { current_op = previous_; }
const char* CurrentOp::name() { return current_op ? current_op : ""; }

std::string format_bytes(int64_t bytes) {
  char text[32];
  double b = static_cast<double>(bytes);
  if (bytes >= (int64_t{1} << 30)) std::snprintf(text, sizeof text, "%.2f GiB", b / (1 << 30));
  else if (bytes >= (int64_t{1} << 20)) std::snprintf(text, sizeof text, "%.1f MiB", b / (1 << 20));
  else if (bytes >= 1024) std::snprintf(text, sizeof text, "%.1f KiB", b / 1024);
  else std::snprintf(text, sizeof text, "%lld B", static_cast<long long>(bytes));
  return text;
}

std::string format_out_of_memory(const OutOfMemoryReport& r) {
  std::string m = r.device.str() + " out of memory";
  if (!r.op.empty()) m += " in " + r.op;
  m += ": tried to allocate " + format_bytes(r.requested);
  if (r.free >= 0 && r.total >= 0) m += " with " + format_bytes(r.free) + " free of " + format_bytes(r.total);
  m += "; " + format_bytes(r.live) + " in tensors, " + format_bytes(r.cached) + " cached by trainrt";
  if (r.released) m += " (released and retried)";
  m += ". Use a smaller per-device batch (each rank or replica gets batch_size / world size), "
       "free tensors you keep (t:free(), trainrt.empty_cache()), or check that no other process uses " +
       r.device.str() + " (nvidia-smi)";
  return m;
}

}  // namespace trainrt
