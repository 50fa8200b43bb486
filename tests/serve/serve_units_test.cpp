// `trainrt serve`'s parts in process: request parsing and its refusals, the
// response format, the batcher (rows stacked, split back, errors shared) and
// the Prometheus exposition. The real server is tested in serve_http_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "serve/batcher.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "trainrt/error.h"

namespace trainrt::serve {
namespace {

int refusal_status(const std::string& body, const std::optional<Shape>& shape, int64_t max_inputs = 8) {
  try {
    parse_inputs(body, shape, max_inputs);
  } catch (const BadRequest& e) {
    EXPECT_FALSE(e.message.empty());
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
    return e.status;
  }
  return 200;
}

TEST(ServeParse, NestedAndFlatSamples) {
  Inputs in = parse_inputs(R"({"inputs": [[[1, 2], [3, 4]], [5, 6, 7, 8]]})", Shape{2, 2}, 8);
  EXPECT_EQ(in.rows, 2);
  EXPECT_EQ(in.row_shape, (Shape{2, 2}));
  EXPECT_EQ(in.values, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  Inputs free = parse_inputs(R"({"inputs": [[1.5, -2], [3, 4e-3]]})", std::nullopt, 8);
  EXPECT_EQ(free.row_shape, (Shape{2}));
  EXPECT_EQ(free.values[3], 4e-3f);
}

TEST(ServeParse, EveryMalformedRequestIs400WithOneLine) {
  const Shape four{4};
  for (const char* body : {"", "{", "not json", "[1, 2]", "{}", R"({"inputs": 3})", R"({"inputs": []})",
                           R"({"inputs": [[1, 2, 3]]})", R"({"inputs": [[1, 2, 3, 4], [1, 2, 3]]})",
                           R"({"inputs": [[1, 2, "3", 4]]})", R"({"inputs": [[1, 2, null, 4]]})",
                           R"({"inputs": [[1, 2, true, 4]]})", R"({"inputs": [[1, 2, 1e300, 4]]})",
                           R"({"inputs": [[[1], [2], [3], [4]]]})", R"({"inputs": [1, 2, 3, 4]})"})
    EXPECT_EQ(refusal_status(body, four), 400) << body;
  // Without a declared shape, samples must agree with the first.
  EXPECT_EQ(refusal_status(R"({"inputs": [[1, 2], [1, 2, 3]]})", std::nullopt), 400);
  EXPECT_EQ(refusal_status(R"({"inputs": [[]]})", std::nullopt), 400);
  // More samples than --max-batch.
  EXPECT_EQ(refusal_status(R"({"inputs": [[1,2,3,4],[1,2,3,4],[1,2,3,4]]})", four, 2), 400);
  // A first sample whose first-path nesting claims far more numbers than the
  // body holds (12 levels of 30: 30^12 floats, 2 TB): refused with a 400
  // before it sizes the buffer, not a failed allocation.
  std::string claim = "[0";
  for (int i = 1; i < 30; ++i) claim += ",0";
  claim += "]";
  for (int level = 1; level < 12; ++level) {
    std::string outer = "[" + claim;
    for (int i = 1; i < 30; ++i) outer += ",0";
    claim = outer + "]";
  }
  EXPECT_EQ(refusal_status(R"({"inputs": [)" + claim + "]}", std::nullopt), 400);
  // Nested deeper than the limit: refused before building the document.
  EXPECT_EQ(refusal_status(std::string(200, '[') + std::string(200, ']'), four), 400);
}

TEST(ServeFormat, OutputsAndArgmax) {
  Outputs out{{3}, 2, {0.5f, 2.25f, -1, 7, 1, 0.1f}};
  EXPECT_EQ(format_outputs(out), "{\"argmax\":[1,0],\"outputs\":[[0.5,2.25,-1.0],[7.0,1.0,0.1]]}\n");
  Outputs grid{{1, 2}, 1, {1, 2}};
  EXPECT_EQ(format_outputs(grid), "{\"outputs\":[[[1.0,2.0]]]}\n");
}

Inputs rows_of(float value, int64_t rows) {
  return Inputs{{2}, rows, std::vector<float>(static_cast<size_t>(2 * rows), value)};
}

TEST(ServeBatcher, StacksConcurrentRequestsAndSplitsRows) {
  std::atomic<int> forwards{0};
  std::atomic<int64_t> largest{0};
  // y = x * 10, one row per input.
  Batcher batcher(
      [&](const Tensor& x) {
        ++forwards;
        largest = std::max<int64_t>(largest, x.size(0));
        std::vector<double> v = x.to_vector();
        for (double& e : v) e *= 10;
        return Tensor::from_vector(v, x.sizes());
      },
      BatchOptions{8, std::chrono::milliseconds(200)});
  std::vector<std::future<Outputs>> answers;
  for (int i = 0; i < 12; ++i) answers.push_back(batcher.submit(rows_of(static_cast<float>(i), 1 + i % 2)));
  for (int i = 0; i < 12; ++i) {
    Outputs out = answers[static_cast<size_t>(i)].get();
    EXPECT_EQ(out.rows, 1 + i % 2);
    EXPECT_EQ(out.row_shape, (Shape{2}));
    for (float v : out.values) EXPECT_EQ(v, 10.0f * static_cast<float>(i));
  }
  EXPECT_LE(largest.load(), 8);  // --max-batch holds
  EXPECT_LT(forwards.load(), 12);  // and requests were batched
}

TEST(ServeBatcher, ShapesAreNotMixedAndErrorsReachEveryRequest) {
  Batcher batcher(
      [](const Tensor& x) -> Tensor {
        if (x.size(1) == 3) fail("boom");
        return x;
      },
      BatchOptions{8, std::chrono::milliseconds(50)});
  auto good = batcher.submit(rows_of(1, 2));
  auto bad1 = batcher.submit(Inputs{{3}, 1, {1, 2, 3}});
  auto bad2 = batcher.submit(Inputs{{3}, 1, {1, 2, 3}});
  EXPECT_EQ(good.get().values, (std::vector<float>{1, 1, 1, 1}));
  EXPECT_THROW(bad1.get(), Error);
  EXPECT_THROW(bad2.get(), Error);
  batcher.stop();
  EXPECT_ANY_THROW(batcher.submit(rows_of(1, 1)));
}

TEST(ServeMetrics, PrometheusText) {
  Metrics m(64);
  m.request_done("/v1/predict", 200);
  m.request_done("/v1/predict", 200);
  m.request_done("/v1/predict", 400);
  m.predict_latency(0.003);
  m.batch_done(5);
  m.in_flight_add(1);
  std::string text = m.exposition();
  EXPECT_NE(text.find("trainrt_serve_requests_total{route=\"/v1/predict\",code=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trainrt_serve_request_duration_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trainrt_serve_request_duration_seconds_bucket{le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trainrt_serve_batch_size_bucket{le=\"8\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trainrt_serve_batch_size_bucket{le=\"64\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trainrt_serve_in_flight_requests 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace trainrt::serve
