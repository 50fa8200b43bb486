// Step capture: recording the kernels one call of a training step launches, so
// that trainrt.compile (runtime/compile/) can replay them as a plan with no
// Lua and no per-op host work, the structure a CUDA graph replays.
// While a capture is active on the calling thread, every kernel launched
// through launch_kernel is recorded (and still runs, so the captured call is an
// ordinary eager step). Whatever a plan cannot replay faithfully makes the
// capture fail with a reason, and the step then runs eagerly: a launch that is
// not a kernel (a collective, a cross-device copy), the host reading a tensor
// the step computed (item(), printing: the step may branch on it), a random
// draw (a replay would repeat it), trainrt.synchronize(). Host work that must
// run at every step (the optimizer's update, whose step count and learning
// rate live on the host) is recorded as a host node: run_host_node pauses the
// recording around it, and the plan calls it back at replay.
// These hooks cost one thread-local load when no capture is active.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainrt/dispatch.h"
#include "trainrt/storage.h"

namespace trainrt::capture {

// A storage the recording saw. The step's own storages (made during the
// capture) are held weakly, so the capture's eager run frees intermediates as
// it goes, as an uncaptured step would; the plan lays them out again. What
// existed before the step, and constants the host filled, are held strongly.
struct RecordedStorage {
  StoragePtr strong;
  std::weak_ptr<Storage> weak;
  char* base = nullptr;  // its address during the capture
  size_t bytes = 0;
  bool created = false;       // allocated while capturing
  bool host_written = false;  // a fresh storage the host filled (a constant)
  bool used = false;          // a recorded kernel touched it
};

// One recorded kernel call; storage[i] is the recorded storage (an index into
// Recording::storages) of view i, inputs then outputs.
struct RecordedKernel {
  KernelCall call;
  Device device;
  std::vector<int> storage;
};

// Everything one capture saw, in launch order. host_node_after[k] is the
// number of kernels recorded before host node k ran.
struct Recording {
  std::vector<RecordedKernel> kernels;
  std::vector<RecordedStorage> storages;
  std::vector<size_t> host_node_after;
  std::string failure;  // why the step cannot be replayed ("" = it can)
};

// Starts recording on this thread (one capture at a time per thread) and
// stops it when destroyed. recording() is what was seen so far.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Recording& recording() { return *recording_; }

 private:
  std::unique_ptr<Recording> recording_;
  Recording* previous_;
};

bool active();  // a capture is recording on this thread
// Marks the capture as not replayable (the first reason wins).
void fail(const std::string& reason);

// Hooks for the runtime (no-ops when no capture is active).
void record_kernel(const KernelCall& call, Device device, const std::vector<StoragePtr>& storages);
void on_storage_created(const Storage* storage);
void on_host_access(const Storage* storage);  // Tensor::data_ptr
void on_launch(const std::string& what);      // any queue launch (trainrt/stream.h)
void on_synchronize();
void on_random_draw();                        // ops::generator_advance

// launch_kernel's launch is a recorded kernel, not a foreign launch.
class LaunchFromKernel {
 public:
  LaunchFromKernel();
  ~LaunchFromKernel();

 private:
  bool previous_;
};

// Runs `body` as a host node: recording paused while it runs, its position
// noted so a plan can call it again at replay. Without a capture: just runs it.
void run_host_node(const std::function<void()>& body);

}  // namespace trainrt::capture
