// Kernel registry and the single path every op takes to reach a kernel:
// one device for all tensors, views packed for the C ABI, the kernel launched
// on the device's queue (trainrt/stream.h), a kernel error turned into
// trainrt::Error naming the op.
#include "trainrt/dispatch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "trainrt/capture.h"
#include "trainrt/devices.h"
#include "trainrt/error.h"
#include "trainrt/stream.h"

namespace trainrt {
namespace {

std::map<std::pair<std::string, DeviceType>, KernelEntry>& registry() {
  static std::map<std::pair<std::string, DeviceType>, KernelEntry> kernels;
  return kernels;
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

bool profile_env() {
  static const bool enabled = [] {
    const char* env = std::getenv("TRAINRT_PROFILE");
    return env && *env && std::string(env) != "0";
  }();
  return enabled;
}

// Timing asked for by a metrics endpoint (trainrt/metrics.h), without the table.
std::atomic<bool>& kernel_timing() {
  static std::atomic<bool> on{false};
  return on;
}

// TRAINRT_PROFILE=1: time every kernel call and print a table per op at exit;
// a metrics endpoint reads the same table (trainrt_kernel_seconds_total).
struct KernelProfile {
  std::mutex mutex;
  std::map<std::string, std::pair<int64_t, double>> calls;  // op -> (count, seconds)
  // Never destroyed, so the table can still be read by the atexit printer.
  static KernelProfile& instance() {
    static KernelProfile* profile = [] {
      auto* p = new KernelProfile;
      if (profile_env()) std::atexit([] { instance().print(); });
      return p;
    }();
    return *profile;
  }
  void add(const std::string& op, double seconds) {
    std::lock_guard lock(mutex);
    auto& entry = calls[op];
    ++entry.first;
    entry.second += seconds;
  }
  void print() {
    std::vector<std::pair<std::string, std::pair<int64_t, double>>> rows(calls.begin(), calls.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
    double total = 0;
    for (const auto& r : rows) total += r.second.second;
    std::fprintf(stderr, "trainrt: kernel profile (TRAINRT_PROFILE=1), %.3f s in kernels\n", total);
    std::fprintf(stderr, "  %-28s %10s %12s %10s %6s\n", "op", "calls", "total_ms", "avg_us", "share");
    for (const auto& [op, stat] : rows)
      std::fprintf(stderr, "  %-28s %10lld %12.2f %10.1f %5.1f%%\n", op.c_str(), static_cast<long long>(stat.first),
                   stat.second * 1e3, stat.second * 1e6 / static_cast<double>(stat.first),
                   total > 0 ? 100 * stat.second / total : 0.0);
  }
};

bool profiling_enabled() { return profile_env() || kernel_timing().load(std::memory_order_relaxed); }

// Default: every core, or TRAINRT_DEFAULT_THREADS (set by `trainrt launch` to
// the cores per worker, so N workers on one machine do not oversubscribe it).
int default_threads() {
  if (const char* env = std::getenv("TRAINRT_DEFAULT_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1 && n <= 1024) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Atomic: data workers and collective threads read it while the script may set it.
std::atomic<int>& thread_setting() {
  static std::atomic<int> threads{default_threads()};
  return threads;
}

}  // namespace

void enable_kernel_timing() { kernel_timing().store(true); }

std::vector<KernelProfileEntry> kernel_profile() {
  std::vector<KernelProfileEntry> out;
  if (!profiling_enabled()) return out;
  KernelProfile& profile = KernelProfile::instance();
  std::lock_guard lock(profile.mutex);
  for (const auto& [op, stat] : profile.calls) out.push_back({op, stat.first, stat.second});
  return out;
}

void register_kernel(const std::string& op, DeviceType device, trt_kernel_fn fn, const std::string& plugin) {
  std::lock_guard lock(registry_mutex());
  auto [it, inserted] = registry().try_emplace({op, device}, KernelEntry{fn, plugin});
  TRT_CHECK(inserted, "kernel '", op, "' for ", device_type_name(device), " is registered by plugin '", it->second.plugin,
            "' already; plugin '", plugin, "' may not replace it");
}

std::string kernel_owner(const std::string& op, DeviceType device) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find({op, device});
  return it == registry().end() ? std::string() : it->second.plugin;
}

bool has_kernel(const std::string& op, DeviceType device) {
  std::lock_guard lock(registry_mutex());
  return registry().count({op, device}) > 0;
}

std::vector<std::string> kernels_for(DeviceType device, const std::string& plugin) {
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> out;
  for (const auto& [key, entry] : registry())
    if (key.second == device && (plugin.empty() || entry.plugin == plugin)) out.push_back(key.first);
  return out;
}

trt_tensor_view to_view(const Tensor& t) {
  trt_tensor_view v{};
  v.struct_size = sizeof(trt_tensor_view);
  v.dtype = static_cast<int32_t>(t.dtype());
  v.device_type = static_cast<int32_t>(t.device().type);
  v.device_index = t.device().index;
  v.ndim = static_cast<int32_t>(t.dim());
  v.data = t.numel() ? t.kernel_data_ptr() : nullptr;
  for (int64_t i = 0; i < t.dim(); ++i) {
    v.sizes[i] = t.sizes()[i];
    v.strides[i] = t.strides()[i];
  }
  return v;
}

trt_kernel_args kernel_args(const std::vector<trt_tensor_view>& inputs, const std::vector<trt_tensor_view>& outputs,
                            const std::vector<int64_t>& int_attrs, const std::vector<double>& float_attrs, char* error,
                            size_t error_capacity) {
  trt_kernel_args args{};
  args.struct_size = sizeof(args);
  args.abi_version = TRT_PLUGIN_ABI_VERSION;
  args.inputs = inputs.data();
  args.n_inputs = static_cast<int32_t>(inputs.size());
  args.outputs = outputs.data();
  args.n_outputs = static_cast<int32_t>(outputs.size());
  args.int_attrs = int_attrs.data();
  args.n_int_attrs = static_cast<int32_t>(int_attrs.size());
  args.float_attrs = float_attrs.data();
  args.n_float_attrs = static_cast<int32_t>(float_attrs.size());
  args.num_threads = thread_setting();
  args.error = error;
  args.error_capacity = error_capacity;
  return args;
}

namespace {

// "matmul on (64, 3136), (3136, 128)": what an asynchronous error names.
std::string describe(const std::string& op, const std::vector<trt_tensor_view>& inputs) {
  if (inputs.empty()) return op;
  std::string what = op + " on ";
  for (size_t i = 0; i < inputs.size(); ++i)
    what += (i ? ", " : "") + shape_str(Shape(inputs[i].sizes, inputs[i].sizes + inputs[i].ndim));
  return what;
}

}  // namespace

void run_kernel_call(const KernelCall& call) {
  char error[512] = {0};
  trt_kernel_args args = kernel_args(call.inputs, call.outputs, call.int_attrs, call.float_attrs, error, sizeof(error));
  args.num_threads = call.threads;
  args.stream = call.stream;
  trt_status status;
  if (profiling_enabled()) {
    auto start = std::chrono::steady_clock::now();
    status = call.fn(&args);
    KernelProfile::instance().add(call.op,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  } else {
    status = call.fn(&args);
  }
  if (status == TRT_OK) return;
  const std::string& op = call.op;
  std::string message = error[0] ? std::string(error) : "kernel failed with status " + std::to_string(status);
  // Kernels usually prefix their own name: show the op the caller used instead
  // (cross_entropy for the nll_loss kernel), and add it when they did not.
  if (call.kernel != op && message.rfind(call.kernel + ":", 0) == 0) message = op + message.substr(call.kernel.size());
  if (message.rfind(op, 0) != 0) message = op + ": " + message;
  throw LaunchedTaskError(message, describe(op, call.inputs));
}

trt_kernel_fn find_kernel(const std::string& kernel, DeviceType device) {
  std::lock_guard lock(registry_mutex());
  auto it = registry().find({kernel, device});
  return it == registry().end() ? nullptr : it->second.fn;
}

void launch_kernel(const std::string& op, trt_kernel_fn fn, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& outputs, std::vector<int64_t> int_attrs, std::vector<double> float_attrs,
                   const std::string& kernel_name) {
  const Tensor* first = nullptr;
  std::vector<trt_tensor_view> in_views, out_views;
  std::vector<StoragePtr> storages;  // alive until the kernel has run: stream-ordered reuse
  auto pack = [&](const std::vector<Tensor>& tensors, std::vector<trt_tensor_view>& views) {
    for (const Tensor& t : tensors) {
      TRT_CHECK(t.defined(), op, ": undefined tensor argument");
      if (!first) first = &t;
      TRT_CHECK(t.device() == first->device(), op, ": tensors on different devices ", first->device().str(), " and ",
                t.device().str(), "; move them with :to(device)");
      views.push_back(to_view(t));
      storages.push_back(t.storage());
    }
  };
  pack(inputs, in_views);
  pack(outputs, out_views);
  TRT_CHECK(first != nullptr, op, ": called without tensors");
  Device device = first->device();
  auto call = std::make_shared<KernelCall>();
  call->op = op;
  call->kernel = kernel_name.empty() ? op : kernel_name;
  call->fn = fn;
  call->inputs = std::move(in_views);
  call->outputs = std::move(out_views);
  call->int_attrs = std::move(int_attrs);
  call->float_attrs = std::move(float_attrs);
  call->threads = threads_for(device);
  call->stream = device_stream(device);  // nullptr on the CPU
  if (capture::active()) capture::record_kernel(*call, device, storages);
  auto task = [call, storages]() { run_kernel_call(*call); };
  capture::LaunchFromKernel from_kernel;
  uint64_t position = launch(device, op, std::move(task));
  if (position)
    for (const StoragePtr& s : storages) s->note_use(device, position);
}

void call_kernel_as(const std::string& op, const char* kernel, const std::vector<Tensor>& inputs,
                    const std::vector<Tensor>& outputs, const std::vector<int64_t>& int_attrs,
                    const std::vector<double>& float_attrs) {
  TRT_CHECK(!inputs.empty() || !outputs.empty(), op, ": called without tensors");
  const Tensor& first = inputs.empty() ? outputs[0] : inputs[0];
  TRT_CHECK(first.defined(), op, ": undefined tensor argument");
  DeviceType device = first.device().type;
  trt_kernel_fn fn = nullptr;
  {
    std::lock_guard lock(registry_mutex());
    auto it = registry().find({kernel, device});
    if (it != registry().end()) fn = it->second.fn;
  }
  TRT_CHECK(fn != nullptr, "no kernel '", kernel, "' for device ", device_type_name(device), "; is the ops-",
            device_type_name(device), " plugin loaded? (run `trainrt plugins`)");
  launch_kernel(op, fn, inputs, outputs, int_attrs, float_attrs, kernel);
}

void call_kernel(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                 const std::vector<int64_t>& int_attrs, const std::vector<double>& float_attrs) {
  call_kernel_as(op, op, inputs, outputs, int_attrs, float_attrs);
}

int num_threads() { return thread_setting(); }

void set_num_threads(int n) {
  TRT_CHECK(n >= 1 && n <= 1024, "threads must be between 1 and 1024, got ", n);
  thread_setting() = n;
}

}  // namespace trainrt
