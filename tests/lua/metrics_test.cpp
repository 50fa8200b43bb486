// --metrics-port through the real binary: a script trains a tiny model on a CSV
// table, then scrapes its own /metrics and /healthz with curl while the
// endpoint runs (the server answers from its own threads while the script
// blocks in os.execute). The text must hold the documented names with job and
// rank labels and the values the script saw, and pass `promtool check metrics`.
// Also: two ranks under `trainrt launch` on port + LOCAL_RANK, a port in use,
// a bad port, and the registry's text format in-process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "lua_script_runner.h"
#include "requirements.h"
#include "trainrt/error.h"
#include "trainrt/metrics.h"

namespace trainrt::test {
namespace {

bool have_tool(const std::string& name) { return run_shell("command -v " + name + " >/dev/null 2>&1").exit_code == 0; }

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of the series `name{labels}` exactly as written (labels in the exposition's order), or NaN.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nan("");
}

// A TCP socket listening on 127.0.0.1:port (0: any); returns fd and sets port.
int listen_on(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Two consecutive free ports (for port + LOCAL_RANK); 0 if none was found.
int two_free_ports() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int port = 0;
    int a = listen_on(port);
    if (a < 0) continue;
    int next = port + 1;
    int b = next <= 65535 ? listen_on(next) : -1;
    close(a);
    if (b >= 0) {
      close(b);
      return port;
    }
  }
  return 0;
}

// Trains a linear model on 64 CSV rows (batch 8: 8 steps per epoch, 2 epochs)
// with trainrt.fit, saves a checkpoint, prints the last loss exactly, then
// curls its own endpoint into metrics-<rank>.txt and healthz-<rank>.txt.
const char* kTrainAndScrape = R"lua(
local nn, optim, data = require "trainrt.nn", require "trainrt.optim", require "trainrt.data"
local rank = os.getenv("RANK") or "0"
if rank == "0" then
  local f = assert(io.open("rows.csv", "w"))
  f:write("a,b,y\n")
  for i = 1, 64 do f:write(i / 64, ",", (i % 7) / 7, ",", i % 2, "\n") end
  f:close()
end
local strategy = trainrt.strategy()
strategy:barrier()
local ds = data.dataset("csv", { path = "rows.csv", label = "y" })
local model = nn.Linear(2, 2)
local last
local loader = data.DataLoader(ds, { batch_size = 8 })
trainrt.fit{ model = model, optimizer = optim.SGD{ model:parameters(), lr = 0.1 }, train = loader, test = loader,
             epochs = 2, quiet = true, strategy = strategy,
             callbacks = { on_batch_end = function(_, logs) last = logs.loss end } }
strategy:save_checkpoint("ckpt-" .. rank .. ".safetensors", { model = model })
trainrt.metrics.set("test_custom_value", 42, { help = "a script's own gauge", labels = { kind = "x" } })
print(string.format("rank %s last loss %.17g", rank, last))
local port = assert(trainrt.metrics.port(), "no metrics port")
print(string.format("rank %s serves on %d", rank, port))
local url = "http://127.0.0.1:" .. port
assert(os.execute("curl -sf " .. url .. "/metrics -o metrics-" .. rank .. ".txt"), "curl /metrics failed")
assert(os.execute("curl -sf " .. url .. "/healthz -o healthz-" .. rank .. ".txt"), "curl /healthz failed")
)lua";

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_OR_SKIP(have_tool("curl"), "curl is missing (Debian package curl)"); }

  // promtool's verdict on a scraped text ("" when it accepts it).
  static std::string promtool_problems(const std::filesystem::path& file) {
    ScriptResult r = run_shell("promtool check metrics < '" + file.string() + "' 2>&1");
    return r.exit_code == 0 ? "" : r.output + " (exit " + std::to_string(r.exit_code) + ")";
  }
};

TEST_F(Metrics, OneProcessServesTrainingMetricsThatPromtoolAccepts) {
  auto dir = make_temp_dir();
  std::ofstream(dir / "train.lua") << kTrainAndScrape;
  ScriptResult r = run_trainrt("train train.lua --metrics-port 0 --set metrics.job=tiny --threads 1", dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("trainrt: metrics: serving http://127.0.0.1:[0-9]+/metrics \\(rank 0\\)")))
      << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("rank 0 last loss (\\S+)"))) << r.output;
  const double printed_loss = std::stod(m[1]);

  const std::string text = read_text(dir / "metrics-0.txt");
  const std::string l = "{job=\"tiny\",rank=\"0\"}";
  EXPECT_EQ(sample(text, "trainrt_steps_total" + l), 16) << text;          // 2 epochs of 8 batches
  EXPECT_EQ(sample(text, "trainrt_samples_total" + l), 128) << text;
  EXPECT_EQ(sample(text, "trainrt_step_duration_seconds_count" + l), 16) << text;
  EXPECT_EQ(sample(text, "trainrt_step_duration_seconds_bucket{job=\"tiny\",rank=\"0\",le=\"+Inf\"}"), 16) << text;
  EXPECT_GT(sample(text, "trainrt_step_duration_seconds_sum" + l), 0) << text;
  EXPECT_EQ(sample(text, "trainrt_loss" + l), printed_loss) << text;        // bit for bit
  EXPECT_EQ(sample(text, "trainrt_epoch" + l), 2) << text;
  EXPECT_EQ(sample(text, "trainrt_epoch_step" + l), 8) << text;
  EXPECT_GT(sample(text, "trainrt_samples_per_second" + l), 0) << text;
  EXPECT_GE(sample(text, "trainrt_eval_loss" + l), 0) << text;
  EXPECT_GE(sample(text, "trainrt_eval_accuracy" + l), 0) << text;
  // 16 training batches and 2 evaluations of 8.
  EXPECT_EQ(sample(text, "trainrt_data_batches_total" + l), 32) << text;
  EXPECT_GE(sample(text, "trainrt_data_wait_seconds_total" + l), 0) << text;
  EXPECT_GT(sample(text, "trainrt_memory_peak_bytes{device=\"cpu:0\",job=\"tiny\",rank=\"0\"}"), 0) << text;
  EXPECT_GE(sample(text, "trainrt_memory_bytes{device=\"cpu:0\",job=\"tiny\",rank=\"0\"}"), 0) << text;
  EXPECT_EQ(sample(text, "trainrt_checkpoint_saves_total" + l), 1) << text;
  double age = sample(text, "trainrt_checkpoint_age_seconds" + l);
  EXPECT_TRUE(age >= 0 && age < 60) << text;
  EXPECT_GT(sample(text, "trainrt_checkpoint_last_save_timestamp_seconds" + l), 1.7e9) << text;
  EXPECT_GT(sample(text, "trainrt_kernel_calls_total{job=\"tiny\",op=\"matmul\",rank=\"0\"}"), 0) << text;
  EXPECT_GT(sample(text, "trainrt_kernel_seconds_total{job=\"tiny\",op=\"matmul\",rank=\"0\"}"), 0) << text;
  EXPECT_EQ(sample(text, "trainrt_world_size" + l), 1) << text;
  EXPECT_EQ(sample(text, "test_custom_value{job=\"tiny\",kind=\"x\",rank=\"0\"}"), 42) << text;
  EXPECT_NE(text.find("# TYPE trainrt_steps_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE trainrt_step_duration_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP trainrt_loss "), std::string::npos) << text;
  EXPECT_EQ(read_text(dir / "healthz-0.txt"), "ok step=8 epoch=2\n");

  REQUIRE_OR_SKIP(have_tool("promtool"), "promtool is missing (Debian package prometheus)");
  EXPECT_EQ(promtool_problems(dir / "metrics-0.txt"), "") << text;
}

TEST_F(Metrics, TwoRanksUnderLaunchServeOnPortPlusLocalRank) {
  auto dir = make_temp_dir();
  std::ofstream(dir / "train.lua") << kTrainAndScrape;
  const int port = two_free_ports();
  ASSERT_NE(port, 0);
  ScriptResult r = run_trainrt("launch --nproc-per-node 2 --master-port 0 train.lua --strategy ddp --threads 1 "
                               "--metrics-port " + std::to_string(port), dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    const std::string prefix = rank == 0 ? "" : "[rank 1] ";
    EXPECT_NE(r.output.find(prefix + "rank " + std::to_string(rank) + " serves on " + std::to_string(port + rank)),
              std::string::npos) << r.output;
    const std::string text = read_text(dir / ("metrics-" + std::to_string(rank) + ".txt"));
    const std::string l = "{job=\"train\",rank=\"" + std::to_string(rank) + "\"}";
    EXPECT_EQ(sample(text, "trainrt_steps_total" + l), 8) << text;  // 64 rows over 2 ranks, batch 8, 2 epochs
    EXPECT_EQ(sample(text, "trainrt_world_size" + l), 2) << text;
    // DDP averages gradients with one all_reduce per step (one bucket) at least.
    const std::string ar = "{job=\"train\",op=\"all_reduce\",rank=\"" + std::to_string(rank) + "\"}";
    EXPECT_GE(sample(text, "trainrt_collective_duration_seconds_count" + ar), 8) << text;
    EXPECT_GT(sample(text, "trainrt_collective_duration_seconds_sum" + ar), 0) << text;
    EXPECT_GE(sample(text, "trainrt_collective_wait_seconds_total" + ar), 0) << text;
    EXPECT_GE(sample(text, "trainrt_collective_last_sequence" + l), 8) << text;
    EXPECT_EQ(sample(text, "trainrt_collective_last_completed_sequence" + l),
              sample(text, "trainrt_collective_last_sequence" + l)) << text;
    EXPECT_EQ(sample(text, "trainrt_checkpoint_saves_total" + l), 1) << text;
    if (have_tool("promtool"))
      EXPECT_EQ(promtool_problems(dir / ("metrics-" + std::to_string(rank) + ".txt")), "") << text;
  }
}

TEST_F(Metrics, APortInUseStopsTheRunWithOneLine) {
  int port = 0;
  int fd = listen_on(port);
  ASSERT_GE(fd, 0);
  ScriptResult r = run_lua_script("print('script ran')", "--metrics-port " + std::to_string(port));
  close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "trainrt: error: rank 0: cannot serve metrics on 127.0.0.1:" + std::to_string(port) +
                          ": address already in use; choose another --metrics-port\n");
}

TEST_F(Metrics, BadSettingsAreOneLineUsageErrors) {
  ScriptResult r = run_lua_script("print('script ran')", "--metrics-port nine");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "trainrt: --metrics-port expects a port from 0 to 65535, got 'nine'\n");
  r = run_lua_script("print('script ran')", "--set metrics.port=70000");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "--set metrics.port=70000: error: metrics.port must be an integer from 0 to 65535, got 70000\n");
  r = run_lua_script("print(trainrt.metrics.port())");  // no port: nothing served
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "nil\n");
}

TEST(MetricsRegistry, TextFormatEscapesAndOrdersSeries) {
  metrics::Registry registry;
  registry.set_constant_labels({{"rank", "3"}, {"job", "j"}});
  registry.counter("x_total", "a \\ help\nline", {{"path", "a\"b\\c\nd"}}).inc(2);
  registry.gauge("a_gauge", "g").set(0.1);
  registry.gauge("a_gauge", "g", {{"rank", "own"}}).set(-1e300);
  metrics::Histogram& h = registry.histogram("h_seconds", "h", {0.5, 1});
  h.observe(0.5);
  h.observe(2);
  EXPECT_EQ(registry.expose(),
            "# HELP a_gauge g\n# TYPE a_gauge gauge\n"
            "a_gauge{job=\"j\",rank=\"3\"} 0.1\n"
            "a_gauge{job=\"j\",rank=\"own\"} -1e+300\n"
            "# HELP h_seconds h\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{job=\"j\",rank=\"3\",le=\"0.5\"} 1\n"
            "h_seconds_bucket{job=\"j\",rank=\"3\",le=\"1\"} 1\n"
            "h_seconds_bucket{job=\"j\",rank=\"3\",le=\"+Inf\"} 2\n"
            "h_seconds_sum{job=\"j\",rank=\"3\"} 2.5\n"
            "h_seconds_count{job=\"j\",rank=\"3\"} 2\n"
            "# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n"
            "x_total{job=\"j\",path=\"a\\\"b\\\\c\\nd\",rank=\"3\"} 2\n");
  EXPECT_THROW(registry.gauge("x_total", "now a gauge"), Error);
  EXPECT_THROW(registry.counter("1bad", ""), Error);
  EXPECT_THROW(registry.counter("ok_total", "", {{"__reserved", "v"}}), Error);
  EXPECT_THROW(registry.counter("x_total", "").inc(-1), Error);
  EXPECT_EQ(metrics::format_value(std::nan("")), "NaN");
  EXPECT_EQ(metrics::format_value(-INFINITY), "-Inf");
  EXPECT_EQ(metrics::format_value(12345678901.0), "12345678901");
}

}  // namespace
}  // namespace trainrt::test
