// `trainrt serve` as a user runs it: the real binary on a loopback port.
// Served predictions equal the model's outputs computed in Lua by
// `trainrt train` (same model file, same checkpoint); every malformed request
// gets its 4xx and the server keeps answering; concurrent requests are
// batched; SIGTERM answers the request in flight and exits 0; bad command
// lines fail in one line. Fashion-MNIST's CNN (examples/mnist) is served from
// a --checkpoint-dir written by train.lua when the dataset is installed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lua/lua_script_runner.h"
#include "serve/serve_process.h"

namespace trainrt::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A small MLP, input (4,) -> (3,).
const char* kModel = R"lua(
local nn = require "trainrt.nn"
return { input_shape = { 4 }, build = function() return nn.Sequential{ nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3) } end }
)lua";

// Busy for 0.4 s in every forward, so that requests pile up behind one and
// one can be in flight when SIGTERM comes. Names in its file: inner.weight/bias.
// A forward takes 0.4 s, and longer while the file "closed_gate" exists next
// to the model (at most 30 s): the test holds a request in the model until
// the others have arrived, however loaded the machine is.
const char* kSlowModel = R"lua(
local nn = require "trainrt.nn"
local gate = debug.getinfo(1, "S").source:match("^@(.*/)") .. "closed_gate"
local Slow = nn.Module:extend("Slow")
function Slow:__init() self.inner = nn.Linear(4, 3) end
function Slow:forward(x)
  local t = trainrt.clock()
  while trainrt.clock() - t < 0.4 or (io.open(gate) and trainrt.clock() - t < 30) do end
  return self.inner(x)
end
return { input_shape = { 4 }, build = function() return Slow() end }
)lua";

// Builds MODEL (argv: model file, checkpoint to write or load, "save"|"load"),
// then prints each input row and the model's output row for a fixed batch.
const char* kReference = R"lua(
local model_file, ckpt, mode, batch = arg[1], arg[2], arg[3], tonumber(arg[4])
local serve = require "trainrt.serve"
local model, shape = serve.definition(model_file)
if mode == "save" then trainrt.checkpoint.save(ckpt, { model = model }) else trainrt.checkpoint.load(ckpt, { model = model }) end
model:eval()
local size = { batch }
for _, n in ipairs(shape) do size[#size + 1] = n end
trainrt.manual_seed(11)
local x = trainrt.randn(size)
local y = trainrt.no_grad(function() return model(x) end)
local function row(t, i)
  local out = {}
  for _, v in ipairs(t[i]:contiguous():view(-1):tolist()) do out[#out + 1] = string.format("%.9g", v) end
  return table.concat(out, " ")
end
for i = 1, batch do print("in " .. row(x, i)); print("out " .. row(y, i)) end
)lua";

struct Reference {
  std::vector<std::vector<float>> inputs, outputs;
};

std::vector<float> numbers(const std::string& line) {
  std::istringstream in(line);
  std::vector<float> v;
  float x;
  while (in >> x) v.push_back(x);
  return v;
}

Reference run_reference(const fs::path& dir, const std::string& model, const std::string& ckpt, const std::string& mode,
                        int batch) {
  std::ofstream(dir / "reference.lua") << kReference;
  ScriptResult r = run_trainrt("train reference.lua '" + model + "' '" + ckpt + "' " + mode + " " +
                                   std::to_string(batch), dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  Reference ref;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("in ", 0) == 0) ref.inputs.push_back(numbers(line.substr(3)));
    if (line.rfind("out ", 0) == 0) ref.outputs.push_back(numbers(line.substr(4)));
  }
  EXPECT_EQ(static_cast<int>(ref.outputs.size()), batch) << r.output;
  return ref;
}

std::string predict_body(const std::vector<std::vector<float>>& rows) { return json{{"inputs", rows}}.dump(); }

// The served rows equal the reference's (the same batch goes through the same kernels).
void expect_same_outputs(const json& answer, const Reference& ref) {
  ASSERT_EQ(answer["outputs"].size(), ref.outputs.size()) << answer.dump();
  for (size_t i = 0; i < ref.outputs.size(); ++i) {
    std::vector<float> got = answer["outputs"][i].get<std::vector<float>>();
    ASSERT_EQ(got.size(), ref.outputs[i].size());
    size_t best = 0;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_NEAR(got[k], ref.outputs[i][k], 1e-5 * std::abs(ref.outputs[i][k]) + 1e-6) << "row " << i << " k " << k;
      if (ref.outputs[i][k] > ref.outputs[i][best]) best = k;
    }
    EXPECT_EQ(answer["argmax"][i].get<size_t>(), best);
  }
}

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    std::ofstream(dir_ / "model.lua") << kModel;
    ref_ = run_reference(dir_, (dir_ / "model.lua").string(), (dir_ / "ck.safetensors").string(), "save", 5);
  }
  fs::path dir_;
  Reference ref_;
};

TEST_F(Serve, PredictionsEqualTheModelInLua) {
  ServeProcess server({"--model", (dir_ / "model.lua").string(), "--checkpoint", (dir_ / "ck.safetensors").string()},
                      dir_ / "serve.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client = server.client();
  auto res = client.Post("/v1/predict", predict_body(ref_.inputs), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  expect_same_outputs(json::parse(res->body), ref_);

  auto info = client.Get("/v1/model");
  ASSERT_TRUE(info);
  json model = json::parse(info->body);
  EXPECT_EQ(model["input_shape"], json::array({4}));
  EXPECT_EQ(model["parameters"], 4 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ(model["checkpoint"], (dir_ / "ck.safetensors").string());

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("trainrt_serve_requests_total{route=\"/v1/predict\",code=\"200\"} 1"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("trainrt_serve_batch_size_count 1"), std::string::npos) << metrics->body;
  if (std::system("command -v promtool > /dev/null 2>&1") == 0) {
    std::ofstream(dir_ / "metrics.txt") << metrics->body;
    ScriptResult check = run_shell("promtool check metrics < '" + (dir_ / "metrics.txt").string() + "' 2>&1");
    EXPECT_EQ(check.exit_code, 0) << check.output << metrics->body;
  }
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

TEST_F(Serve, EveryMalformedRequestGetsItsStatusAndTheServerStaysUp) {
  ServeProcess server({"--model", (dir_ / "model.lua").string(), "--checkpoint", (dir_ / "ck.safetensors").string(),
                       "--max-batch", "4", "--max-body", "4096"},
                      dir_ / "serve.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client = server.client();
  struct Case {
    std::string name, method, path, body, content_type;
    int status;
  };
  const std::string five = predict_body(std::vector<std::vector<float>>(5, std::vector<float>(4, 1.0f)));
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", "/v1/predict", "{\"inputs\": [[1, 2", "application/json", 400},
      {"not an object", "POST", "/v1/predict", "[[1, 2, 3, 4]]", "application/json", 400},
      {"no inputs", "POST", "/v1/predict", "{\"x\": 1}", "application/json", 400},
      {"wrong shape", "POST", "/v1/predict", "{\"inputs\": [[1, 2, 3]]}", "application/json", 400},
      {"ragged", "POST", "/v1/predict", "{\"inputs\": [[1, 2, 3, 4], [1, 2]]}", "application/json", 400},
      {"not numbers", "POST", "/v1/predict", "{\"inputs\": [[1, 2, \"x\", 4]]}", "application/json", 400},
      {"empty", "POST", "/v1/predict", "{\"inputs\": []}", "application/json", 400},
      {"more inputs than --max-batch", "POST", "/v1/predict", five, "application/json", 400},
      {"deep nesting", "POST", "/v1/predict", std::string(500, '[') + std::string(500, ']'), "application/json", 400},
      {"wrong content type", "POST", "/v1/predict", "{\"inputs\": [[1, 2, 3, 4]]}", "text/plain", 415},
      {"form content type", "POST", "/v1/predict", "inputs=1", "application/x-www-form-urlencoded", 415},
      {"body over --max-body", "POST", "/v1/predict", "{\"inputs\": [[" + std::string(5000, ' ') + "1, 2, 3, 4]]}",
       "application/json", 413},
      {"GET predict", "GET", "/v1/predict", "", "", 405},
      {"POST healthz", "POST", "/healthz", "{}", "application/json", 405},
      {"DELETE model", "DELETE", "/v1/model", "", "", 405},
      {"unknown route", "GET", "/v2/nothing", "", "", 404},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    httplib::Result res = c.method == "GET"      ? client.Get(c.path.c_str())
                          : c.method == "DELETE" ? client.Delete(c.path.c_str())
                                                 : client.Post(c.path.c_str(), c.body, c.content_type.c_str());
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, c.status) << res->body;
    json error = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(error.is_object() && error["error"].is_string()) << res->body;
    EXPECT_EQ(error["error"].get<std::string>().find('\n'), std::string::npos);
    auto health = server.client().Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
  // Still serving correct answers after all that.
  auto res = client.Post("/v1/predict", predict_body({ref_.inputs[0]}), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

TEST(ServeSlow, ConcurrentRequestsAreBatchedAndSigtermAnswersTheOneInFlight) {
  fs::path dir = make_temp_dir();
  std::ofstream(dir / "slow.lua") << kSlowModel;
  Reference ref = run_reference(dir, (dir / "slow.lua").string(), (dir / "slow.safetensors").string(), "save", 1);
  ServeProcess server({"--model", (dir / "slow.lua").string(), "--checkpoint", (dir / "slow.safetensors").string(),
                       "--batch-wait-ms", "0"},
                      dir / "serve.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  const std::string body = predict_body(ref.inputs);
  auto in_flight = [&](int n) {  // waits until /metrics shows n requests in flight
    for (int i = 0; i < 400; ++i) {
      auto m = server.client().Get("/metrics");
      if (m && m->body.find("trainrt_serve_in_flight_requests " + std::to_string(n) + "\n") != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };

  // One request occupies the model (held there by the gate file); eight more
  // queue behind it and go as one batch.
  std::ofstream(dir / "closed_gate") << "";
  std::vector<std::thread> clients;
  std::vector<int> statuses(9, 0);
  std::vector<json> answers(9);
  auto post = [&](int i) {
    auto res = server.client().Post("/v1/predict", body, "application/json");
    if (res) {
      statuses[static_cast<size_t>(i)] = res->status;
      answers[static_cast<size_t>(i)] = json::parse(res->body, nullptr, false);
    }
  };
  clients.emplace_back(post, 0);
  ASSERT_TRUE(in_flight(1));
  for (int i = 1; i < 9; ++i) clients.emplace_back(post, i);
  EXPECT_TRUE(in_flight(9));
  fs::remove(dir / "closed_gate");
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < 9; ++i) {
    ASSERT_EQ(statuses[static_cast<size_t>(i)], 200) << i;
    expect_same_outputs(answers[static_cast<size_t>(i)], ref);
  }
  auto metrics = server.client().Get("/metrics");
  ASSERT_TRUE(metrics);
  // 9 requests in at most 3 forwards (usually 2: 1 + 8).
  size_t at = metrics->body.find("trainrt_serve_batch_size_count ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_LE(std::stoi(metrics->body.substr(at + 31)), 3) << metrics->body;

  // SIGTERM while a request is in the model: it is answered, then exit 0.
  int status = 0;
  std::thread last([&] {
    auto res = server.client().Post("/v1/predict", body, "application/json");
    status = res ? res->status : -1;
  });
  ASSERT_TRUE(in_flight(1));
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
  last.join();
  EXPECT_EQ(status, 200);
  EXPECT_NE(server.log().find("SIGTERM"), std::string::npos) << server.log();
}

TEST(ServeCli, BadCommandLinesFailInOneLine) {
  fs::path dir = make_temp_dir();
  std::ofstream(dir / "model.lua") << kModel;
  std::ofstream(dir / "broken.safetensors") << "not a safetensors file";
  ScriptResult r = run_trainrt("serve --model nope.lua --checkpoint x.safetensors", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--model nope.lua: no such file"), std::string::npos) << r.output;
  r = run_trainrt("serve --model model.lua --checkpoint missing.safetensors", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.safetensors"), std::string::npos) << r.output;
  r = run_trainrt("serve --model model.lua --checkpoint broken.safetensors", dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("broken.safetensors"), std::string::npos) << r.output;
  r = run_trainrt("serve --model model.lua", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_trainrt("serve --model model.lua --checkpoint broken.safetensors --port 99999", dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;

  // A port somebody else listens on.
  run_reference(dir, "model.lua", "ck.safetensors", "save", 1);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  const std::string port = std::to_string(ntohs(address.sin_port));
  r = run_trainrt("serve --model model.lua --checkpoint ck.safetensors --port " + port, dir);
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:" + port + ": the port is in use"), std::string::npos) << r.output;
}

// The example: train.lua's checkpoint directory served with examples/mnist/model.lua.
TEST(ServeMnist, TrainedCheckpointDirectoryServes) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  fs::path dir = make_temp_dir();
  const std::string model = source_dir() + "/examples/mnist/model.lua";
  ScriptResult train = run_trainrt("train " + source_dir() + "/examples/mnist/train.lua --epochs 1 --limit 256 "
                                   "--test-limit 100 --threads 1 --checkpoint-dir ck",
                                   dir);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  std::string ckpt;
  for (const auto& e : fs::directory_iterator(dir / "ck"))
    if (e.path().filename().string().rfind("ckpt-", 0) == 0 && e.path().string().find(".state-") == std::string::npos)
      ckpt = e.path().string();
  ASSERT_FALSE(ckpt.empty());
  Reference ref = run_reference(dir, model, ckpt, "load", 3);
  ServeProcess server({"--model", model, "--checkpoint", (dir / "ck").string()}, dir / "serve.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  // Samples as (1, 28, 28) nested arrays, as the model declares.
  json inputs = json::array();
  for (const auto& flat : ref.inputs) {
    json image = json::array();
    for (int r = 0; r < 28; ++r)
      image.push_back(std::vector<float>(flat.begin() + r * 28, flat.begin() + (r + 1) * 28));
    inputs.push_back(json::array({image}));
  }
  auto res = server.client().Post("/v1/predict", json{{"inputs", inputs}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  expect_same_outputs(json::parse(res->body), ref);
  auto info = server.client().Get("/v1/model");
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(info->body)["checkpoint"], ckpt);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
}

}  // namespace
}  // namespace trainrt::test
