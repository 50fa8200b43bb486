// Kernel registry and dispatch: plugins register a kernel per (op, device type);
// the runtime's op functions call them with already-checked, already-allocated
// tensors. Errors a kernel reports come back as trainrt::Error naming the op.
#pragma once
#include <string>
#include <vector>

#include "trainrt/plugin_abi.h"
#include "trainrt/tensor.h"

namespace trainrt {

struct KernelEntry {
  trt_kernel_fn fn = nullptr;
  std::string plugin;  // who registered it
};

// Registers a kernel once: a second registration of (op, device) throws
// trainrt::Error naming both plugins (the loader checks before committing).
void register_kernel(const std::string& op, DeviceType device, trt_kernel_fn fn, const std::string& plugin);
bool has_kernel(const std::string& op, DeviceType device);
// The plugin that registered (op, device), or "" when none did.
std::string kernel_owner(const std::string& op, DeviceType device);
// Registered ops for one device, sorted (for `trainrt plugins`).
std::vector<std::string> kernels_for(DeviceType device, const std::string& plugin = "");

// The view a kernel gets (kernel_data_ptr: does not wait for the queue).
trt_tensor_view to_view(const Tensor& t);

// The trt_kernel_args for one kernel call: ABI version, views, attributes, the
// `threads` setting and an error buffer. The result points into the arguments,
// so they must outlive the call. call_kernel and plugin layers both use it.
trt_kernel_args kernel_args(const std::vector<trt_tensor_view>& inputs, const std::vector<trt_tensor_view>& outputs,
                            const std::vector<int64_t>& int_attrs, const std::vector<double>& float_attrs, char* error,
                            size_t error_capacity);

// One kernel call as a queue runs it: the op it serves (named in errors and the
// profile), the registered kernel name, the function, packed views (their
// data pointers are fixed) and attributes. launch_kernel enqueues one; a
// captured step plan (trainrt/capture.h) replays its recorded ones.
struct KernelCall {
  std::string op, kernel;
  trt_kernel_fn fn = nullptr;
  std::vector<trt_tensor_view> inputs, outputs;
  std::vector<int64_t> int_attrs;
  std::vector<double> float_attrs;
  int threads = 1;
  void* stream = nullptr;  // the device's stream (nullptr on the CPU)
};
// Runs the call on the calling thread (a queue's): profiled when asked, a
// failure thrown as LaunchedTaskError "<op>: <kernel's message>".
void run_kernel_call(const KernelCall& call);
// The registered function for (kernel, device type), or nullptr.
trt_kernel_fn find_kernel(const std::string& kernel, DeviceType device);

// Launches fn on the queue of the tensors' device (trainrt/stream.h): the
// task keeps their storage alive and records its use, so the host waits for
// it before touching them. All tensors must share one device. A failure is
// "<op>: <kernel's message>", raised here when execution is synchronous and at
// the next wait otherwise.
void launch_kernel(const std::string& op, trt_kernel_fn fn, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& outputs, std::vector<int64_t> int_attrs = {},
                   std::vector<double> float_attrs = {}, const std::string& kernel_name = "");

// Calls kernel `op` for the device of inputs/outputs (all must share one device).
// Throws "no kernel 'op' for cuda; is the ops-cuda plugin loaded? (run `trainrt plugins`)".
// call_kernel_as runs kernel `kernel` but names `op` in errors (a kernel's own
// "kernel: ..." prefix becomes "op: ...").
void call_kernel(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                 const std::vector<int64_t>& int_attrs = {}, const std::vector<double>& float_attrs = {});
void call_kernel_as(const std::string& op, const char* kernel, const std::vector<Tensor>& inputs,
                    const std::vector<Tensor>& outputs, const std::vector<int64_t>& int_attrs = {},
                    const std::vector<double>& float_attrs = {});

// Time spent in each op's kernels, per op name: collected when TRAINRT_PROFILE=1
// (which also prints it at exit) or after enable_kernel_timing() (a metrics
// endpoint). On a GPU a kernel returns once enqueued, so this is launch time.
struct KernelProfileEntry {
  std::string op;
  int64_t calls = 0;
  double seconds = 0;
};
std::vector<KernelProfileEntry> kernel_profile();  // empty when not collected
void enable_kernel_timing();

// Threads used by CPU kernels (the `threads` setting). Default: hardware cores.
int num_threads();
void set_num_threads(int n);

}  // namespace trainrt
