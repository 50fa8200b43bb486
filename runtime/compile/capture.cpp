// The recording side of step capture (trainrt/capture.h): a thread-local
// Recording that the runtime's hooks append to while a capture is active.
#include "trainrt/capture.h"

#include <unordered_map>

#include "trainrt/error.h"

namespace trainrt::capture {
namespace {

thread_local Recording* current = nullptr;   // the active capture on this thread
thread_local bool paused = false;            // inside a host node
thread_local bool launching_kernel = false;  // inside launch_kernel's launch
// The recorded storage each live address stands for (an address freed and
// allocated again during the capture is a new recorded storage).
thread_local std::unordered_map<const Storage*, int>* ids = nullptr;

Recording* recording_now() { return paused ? nullptr : current; }

int id_of(const Storage* s) {
  auto it = ids->find(s);
  return it == ids->end() ? -1 : it->second;
}

}  // namespace

Session::Session() : recording_(std::make_unique<Recording>()), previous_(current) {
  TRT_CHECK(previous_ == nullptr, "trainrt.compile: a compiled step may not call another compiled step while it is captured");
  current = recording_.get();
  ids = new std::unordered_map<const Storage*, int>;
  paused = false;
}

Session::~Session() {
  current = previous_;
  delete ids;
  ids = nullptr;
}

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
  RecordedKernel k{call, device, {}};
  for (const StoragePtr& s : storages) {
    int id = id_of(s.get());
    if (id >= 0) {  // an address seen before: the same storage, or a new one where a dead one lived
      const RecordedStorage& seen = r->storages[static_cast<size_t>(id)];
      if (seen.used && seen.created && seen.weak.lock().get() != s.get()) id = -1;
    }
    if (id < 0) {  // from before the step, or made where the capture does not see (another thread)
      id = static_cast<int>(r->storages.size());
      RecordedStorage rs;
      rs.strong = s;
      r->storages.push_back(std::move(rs));
      (*ids)[s.get()] = id;
    }
    RecordedStorage& rs = r->storages[static_cast<size_t>(id)];
    if (!rs.used) {
      rs.base = static_cast<char*>(s->data());
      rs.bytes = s->nbytes();
      if (rs.created) {
        rs.weak = s;
        if (rs.host_written) rs.strong = s;  // a constant: its contents are the host's
      }
      rs.used = true;
    }
    k.storage.push_back(id);
  }
  r->kernels.push_back(std::move(k));
}

void on_storage_created(const Storage* storage) {
  if (current && paused) ids->erase(storage);  // a host node's: like state from before the step
  Recording* r = recording_now();
  if (!r) return;
  RecordedStorage rs;
  rs.created = true;
  (*ids)[storage] = static_cast<int>(r->storages.size());
  r->storages.push_back(std::move(rs));
}

void on_host_access(const Storage* storage) {
  Recording* r = recording_now();
  if (!r) return;
  // A storage made in this step and not yet touched by a kernel is being
  // filled by the host (a constant such as trainrt.tensor{...}): the plan keeps
  // it as it is. Anything else is the host reading a value the step computed
  // or will compute, which a replay could not do.
  int id = id_of(storage);
  if (id >= 0) {
    RecordedStorage& rs = r->storages[static_cast<size_t>(id)];
    if (rs.created && !rs.used) {
      rs.host_written = true;
      return;
    }
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
