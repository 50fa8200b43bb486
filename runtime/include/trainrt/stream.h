// Device execution queues ("streams"): every device runs the kernels launched
// on it asynchronously and in launch order, as a CUDA stream does. The host
// checks shapes, allocates outputs and enqueues; it waits only where it must
// read or write a value itself (Tensor::data_ptr, item, printing, a copy to
// another device, trainrt.synchronize()). Tasks hold references to the tensors
// they use, so memory the host frees while a queued kernel still uses it
// returns to the allocator only after the queue has run that kernel
// (stream-ordered reuse). A kernel that fails on a queue makes the queue skip
// the rest of its work until the error is raised, at the next point where the
// host waits, naming the op and the shapes ("sticky", like a CUDA error).
// TRAINRT_SYNC=1 runs every kernel at its launch instead (the reference
// semantics; CI runs the op suite both ways).
// Logical CPU devices cpu:0 ... cpu:N-1 each get a queue and an equal share of
// the run's threads, so one process can drive several replicas (mirrored).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "trainrt/device.h"
#include "trainrt/error.h"

namespace trainrt {

// Whether kernels are enqueued (default) or run at launch (TRAINRT_SYNC=1, or
// set_async_execution(false) before the first launch).
bool async_execution();
void set_async_execution(bool enabled);

// Logical CPU devices (default 1: cpu:0). Set once, before tensors exist on
// them (--devices cpu:0,cpu:1 / cpu:* / a count). The run's `threads` are
// split evenly: threads_for(cpu:i) = max(1, num_threads() / count).
void set_cpu_device_count(int count);
int cpu_device_count();
int threads_for(Device device);

// Runs `task` on `device`'s queue after everything launched there before
// (inline when async execution is off). `what` names the work for an error
// report ("matmul on (64, 3136), (3136, 128)"). A task that throws makes the
// queue sticky-failed with that message. Returns the task's position in the
// queue (0 when it ran inline).
uint64_t launch(Device device, std::string what, std::function<void()> task);

// Thrown by a task that describes itself only when it fails (formatting shapes
// at every launch would cost more than a small kernel): `launched` replaces
// the `what` given to launch in the queue's error report.
struct LaunchedTaskError : Error {
  LaunchedTaskError(const std::string& message, std::string launched_what)
      : Error(message), launched(std::move(launched_what)) {}
  std::string launched;
};

// The position after the last task launched on `device` (0 = nothing yet).
uint64_t launched_position(Device device);
// Blocks until `device`'s queue has run every task up to `position`; then
// raises a pending error of that queue, if any.
void wait_position(Device device, uint64_t position);
// Makes `device`'s queue wait (without blocking the host) until `other`'s
// queue has reached `position`: the CUDA event wait between two streams.
void queue_wait(Device device, Device other, uint64_t position);

// Waits until `device`'s queue (every device's when called without one) is
// idle, then raises the first pending error.
void synchronize(Device device);
void synchronize_all();

// Stops every queue (pending tasks are dropped) and joins their threads: at
// exit, and on SIGINT after the run was interrupted.
void shutdown_queues();

}  // namespace trainrt
