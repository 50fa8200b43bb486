// The runtime's own metrics: every name trainrt serves is written here, once
// (docs/monitoring.md lists them; dashboards depend on them, so they do not
// change). Recorders cache their series, so a step or a collective costs a few
// atomic adds and one histogram lock; memory, checkpoint age and the kernel
// profile are read at scrape time.
#include <algorithm>
#include <chrono>
#include <mutex>

#include "trainrt/allocator.h"
#include "trainrt/devices.h"
#include "trainrt/dispatch.h"
#include "trainrt/metrics.h"

namespace trainrt::metrics {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const double kStartTime = unix_now();  // when libtrainrt was loaded: the process's start, near enough

struct StepSeries {
  Counter& steps = registry().counter("trainrt_steps_total", "Optimizer steps taken by this rank.");
  Counter& samples = registry().counter("trainrt_samples_total", "Training samples processed by this rank.");
  Histogram& duration = registry().histogram(
      "trainrt_step_duration_seconds",
      "Wall time of each training step, from the end of the previous step (or the start of the epoch).",
      duration_buckets());
  Gauge& rate = registry().gauge("trainrt_samples_per_second",
                                 "Training samples per second of this rank over the current epoch so far.");
  Gauge& loss = registry().gauge("trainrt_loss", "Loss of the last training step on this rank.");
  Gauge& epoch = registry().gauge("trainrt_epoch", "Current epoch (1-based).");
  Gauge& epoch_step = registry().gauge("trainrt_epoch_step", "Steps taken in the current epoch.");
};
StepSeries& step_series() {
  static StepSeries* s = new StepSeries;
  return *s;
}

struct DataSeries {
  Counter& wait = registry().counter("trainrt_data_wait_seconds_total",
                                     "Time spent waiting for the next batch of a DataLoader.");
  Counter& batches = registry().counter("trainrt_data_batches_total", "Batches handed out by DataLoaders.");
};
DataSeries& data_series() {
  static DataSeries* s = new DataSeries;
  return *s;
}

struct CollectiveSeries {
  Gauge& last = registry().gauge("trainrt_collective_last_sequence",
                                 "Sequence number of the last collective this rank issued.");
  Gauge& last_done = registry().gauge("trainrt_collective_last_completed_sequence",
                                      "Sequence number of the last collective this rank saw complete.");
};
CollectiveSeries& collective_series() {
  static CollectiveSeries* s = new CollectiveSeries;
  return *s;
}

std::atomic<double> last_checkpoint{0};  // unix time; 0 = none yet
std::atomic<int64_t> current_step{0}, current_epoch{0};

void set_memory() {
  std::vector<Device> devices = {Device::cpu()};  // logical CPU devices share cpu:0's counters
  auto add = [&](Device d) {
    if (std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
  };
  for (const Device& d : run_devices())
    if (d.type != DeviceType::CPU) add(d);
  if (has_device_backend(DeviceType::CUDA)) {  // the GPUs this rank used (ddp: cuda:LOCAL_RANK)
    int n = device_count(DeviceType::CUDA);
    for (int i = 0; i < n; ++i)
      if (device_memory({DeviceType::CUDA, i}).allocated_total > 0) add({DeviceType::CUDA, i});
  }
  for (const Device& d : devices) {
    DeviceMemory m = device_memory(d);
    Labels labels = {{"device", d.str()}};
    registry().gauge("trainrt_memory_bytes", "Bytes of tensor memory live on the device.", labels)
        .set(static_cast<double>(m.live_bytes));
    registry().gauge("trainrt_memory_peak_bytes", "Most bytes of tensor memory live on the device at once.", labels)
        .set(static_cast<double>(m.peak_bytes));
    registry().gauge("trainrt_memory_cached_bytes", "Freed bytes the device's allocator keeps for reuse.", labels)
        .set(static_cast<double>(m.cached_bytes));
  }
}

void set_checkpoint_age() {
  double last = last_checkpoint.load();
  registry()
      .gauge("trainrt_checkpoint_age_seconds",
             "Seconds since the last successful checkpoint save, or since the start when none was saved yet.")
      .set(unix_now() - (last > 0 ? last : kStartTime));
}

void set_kernel_profile() {
  for (const KernelProfileEntry& e : kernel_profile()) {
    Labels labels = {{"op", e.op}};
    registry().counter("trainrt_kernel_seconds_total", "Time spent in the kernels of each op.", labels)
        .set_total(e.seconds);
    registry().counter("trainrt_kernel_calls_total", "Kernel calls per op.", labels)
        .set_total(static_cast<double>(e.calls));
  }
}

}  // namespace

void record_step(const Step& step) {
  StepSeries& s = step_series();
  s.steps.inc();
  if (step.samples > 0) s.samples.inc(step.samples);
  if (step.seconds >= 0) s.duration.observe(step.seconds);
  if (step.samples_per_second >= 0) s.rate.set(step.samples_per_second);
  if (step.has_loss) s.loss.set(step.loss);
  s.epoch.set(static_cast<double>(step.epoch));
  s.epoch_step.set(static_cast<double>(step.epoch_step));
  current_step.store(step.epoch_step);
  current_epoch.store(step.epoch);
}

void record_data_wait(double seconds) {
  DataSeries& s = data_series();
  s.wait.inc(seconds > 0 ? seconds : 0);
  s.batches.inc();
}

void record_collective_issued(int64_t seq) { collective_series().last.set(static_cast<double>(seq)); }

void record_collective_done(const char* op, int64_t seq, double seconds_since_issue, double seconds_waited) {
  Labels labels = {{"op", op}};
  registry()
      .histogram("trainrt_collective_duration_seconds", "Time from issuing a collective to seeing it complete.",
                 duration_buckets(), labels)
      .observe(seconds_since_issue);
  registry()
      .counter("trainrt_collective_wait_seconds_total", "Time this rank was blocked waiting for collectives.", labels)
      .inc(seconds_waited > 0 ? seconds_waited : 0);
  Gauge& done = collective_series().last_done;
  if (static_cast<double>(seq) > done.value()) done.set(static_cast<double>(seq));
}

void record_checkpoint_saved() {
  double now = unix_now();
  last_checkpoint.store(now);
  registry().counter("trainrt_checkpoint_saves_total", "Checkpoints saved.").inc();
  registry()
      .gauge("trainrt_checkpoint_last_save_timestamp_seconds", "Unix time of the last successful checkpoint save.")
      .set(now);
}

void set_world_size(int world_size) {
  registry().gauge("trainrt_world_size", "Number of ranks in the job.").set(world_size);
}

void set_eval(double loss, double accuracy, bool has_accuracy) {
  registry().gauge("trainrt_eval_loss", "Mean loss of the last evaluation.").set(loss);
  if (has_accuracy) registry().gauge("trainrt_eval_accuracy", "Accuracy (0-1) of the last evaluation.").set(accuracy);
}

void register_runtime_metrics() {
  static std::once_flag once;
  std::call_once(once, [] {
    registry().gauge("trainrt_build_info", "Always 1; the trainrt version.", {{"version", TRAINRT_VERSION}}).set(1);
    registry().gauge("trainrt_start_time_seconds", "Unix time the process started.").set(kStartTime);
    step_series();
    data_series();
    collective_series();
    registry().counter("trainrt_checkpoint_saves_total", "Checkpoints saved.");
    registry().on_collect(set_memory);
    registry().on_collect(set_checkpoint_age);
    registry().on_collect(set_kernel_profile);
  });
}

std::string health_line() {
  return "ok step=" + std::to_string(current_step.load()) + " epoch=" + std::to_string(current_epoch.load()) + "\n";
}

}  // namespace trainrt::metrics
