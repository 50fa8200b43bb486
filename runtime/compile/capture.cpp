// The recording side of step capture (trainrt/capture.h): a thread-local
// Recording that the runtime's hooks append to while a capture is active.
#include "trainrt/capture.h"

#include <algorithm>

#include "trainrt/error.h"

namespace trainrt::capture {
namespace {

thread_local Recording* current = nullptr;   // the active capture on this thread
thread_local bool paused = false;            // inside a host node
thread_local bool launching_kernel = false;  // inside launch_kernel's launch

Recording* recording_now() { return paused ? nullptr : current; }

bool contains(const std::vector<const Storage*>& list, const Storage* s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

Session::Session() : recording_(std::make_unique<Recording>()), previous_(current) {
  TRT_CHECK(previous_ == nullptr, "trainrt.compile: a compiled step may not call another compiled step while it is captured");
  current = recording_.get();
  paused = false;
}

Session::~Session() { current = previous_; }

bool active() { return recording_now() != nullptr; }

void fail(const std::string& reason) {
  if (Recording* r = current; r && r->failure.empty()) r->failure = reason;
}

void record_kernel(const KernelCall& call, Device device, const std::vector<StoragePtr>& storages) {
  Recording* r = recording_now();
  if (!r) return;
  if (!r->kernels.empty() && r->kernels.front().device != device) {
    fail("it launches kernels on two devices (" + r->kernels.front().device.str() + " and " + device.str() + ")");
    return;
  }
  r->kernels.push_back({call, device, storages});
}

void on_storage_created(const Storage* storage) {
  if (Recording* r = recording_now()) r->created.push_back(storage);
}

void on_host_access(const Storage* storage) {
  Recording* r = recording_now();
  if (!r) return;
  // A storage made in this step and not yet touched by a kernel is being
  // filled by the host (a constant such as trainrt.tensor{...}): the plan keeps
  // it as it is. Anything else is the host reading a value the step computed
  // or will compute, which a replay could not do.
  bool fresh = contains(r->created, storage);
  for (const RecordedKernel& k : r->kernels)
    for (const StoragePtr& s : k.storages)
      if (s.get() == storage) fresh = false;
  if (fresh) {
    r->host_written.push_back(storage);
    return;
  }
  fail("it reads a tensor on the host (item(), printing, a comparison in Lua), and may branch on the value");
}

void on_launch(const std::string& what) {
  if (!launching_kernel && recording_now()) fail("it launches work that is not a kernel (" + what + ")");
}

// Random kernels get the generator's counter as attributes at launch: a replay
// would repeat the captured draw instead of taking the next one.
void on_random_draw() {
  if (recording_now()) fail("it draws random numbers (dropout, rand, randn), which a replay would repeat");
}

void on_synchronize() {
  if (recording_now()) fail("it calls trainrt.synchronize()");
}

LaunchFromKernel::LaunchFromKernel() : previous_(launching_kernel) { launching_kernel = true; }
LaunchFromKernel::~LaunchFromKernel() { launching_kernel = previous_; }

void run_host_node(const std::function<void()>& body) {
  Recording* r = recording_now();
  if (!r) {
    body();
    return;
  }
  r->host_node_after.push_back(r->kernels.size());
  paused = true;
  try {
    body();
  } catch (...) {
    paused = false;
    throw;
  }
  paused = false;
}

}  // namespace trainrt::capture
