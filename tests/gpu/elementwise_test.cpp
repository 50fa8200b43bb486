// Element-wise ops and comparisons on cuda:0 against the CPU on the same
// random inputs: binary ops with broadcasting, scalar and unary ops, operands
// that are transposed, narrowed or expanded (stride 0) views, integer dtypes
// and promotion, gradients, and the integer-division error. Not here: the
// reference values themselves (tests/unit/elementwise_test.cpp checks the CPU).
#include "gpu/gpu_util.h"

namespace trainrt {
namespace {

using test::expect_same_on_cuda;
using test::input;
using test::outputs;
using test::whole_numbers;

using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
struct BinaryCase {
  const char* name;
  Binary op;
  double a_low, a_high, b_low, b_high;  // where the op is smooth and defined
};

std::vector<BinaryCase> binaries() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }, -2, 2, -2, 2},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); }, -2, 2, -2, 2},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }, -2, 2, -2, 2},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); }, -2, 2, 0.5, 2},
      {"pow", [](const Tensor& a, const Tensor& b) { return ops::pow(a, b); }, 0.5, 2, -1.5, 1.5},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }, -2, 2, -2, 2},
  };
}

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{}, {2, 3}}, {{5}, {}}, {{64, 33}, {64, 1}}};

TEST(GpuElementwise, BinaryOpsWithBroadcastingMatchTheCpu) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const BinaryCase& c : binaries())
      for (const auto& [sa, sb] : kBroadcastPairs) {
        std::string what = std::string(c.name) + " " + dtype_name(dt) + " " + shape_str(sa) + " " + shape_str(sb);
        expect_same_on_cuda(what, [&](const std::vector<Tensor>& in) { return outputs(c.op(in[0], in[1])); },
                            {input(sa, dt, c.a_low, c.a_high), input(sb, dt, c.b_low, c.b_high)});
      }
}

TEST(GpuElementwise, BinaryOpsOnTransposedNarrowedAndExpandedViews) {
  REQUIRE_CUDA();
  for (DType dt : test::floating_dtypes())
    for (const BinaryCase& c : binaries()) {
      std::string what = std::string(c.name) + " " + dtype_name(dt);
      // a: (4, 3) transposed to (3, 4); b: (3, 6) narrowed to (3, 4); row: (1, 4) expanded to (3, 4) (stride 0)
      expect_same_on_cuda(
          what + " transposed x narrowed",
          [&](const std::vector<Tensor>& in) { return outputs(c.op(in[0].t(), in[1].narrow(1, 1, 4))); },
          {input({4, 3}, dt, c.a_low, c.a_high), input({3, 6}, dt, c.b_low, c.b_high)});
      expect_same_on_cuda(
          what + " permuted x expanded",
          [&](const std::vector<Tensor>& in) {
            return outputs(c.op(in[0].permute({2, 0, 1}), in[1].expand({5, 3, 4})));
          },
          {input({3, 4, 5}, dt, c.a_low, c.a_high), input({1, 4}, dt, c.b_low, c.b_high)});
      expect_same_on_cuda(
          what + " offset view",
          [&](const std::vector<Tensor>& in) { return outputs(c.op(in[0], in[1].select(0, 1).narrow(0, 2, 4))); },
          {input({3, 4}, dt, c.a_low, c.a_high), input({2, 8}, dt, c.b_low, c.b_high)});
    }
}

TEST(GpuElementwise, ScalarOpsMatchTheCpu) {
  REQUIRE_CUDA();
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> cases = {
      {"add 1.5", [](const Tensor& x) { return ops::add(x, 1.5); }},
      {"sub 0.25", [](const Tensor& x) { return ops::sub(x, 0.25); }},
      {"rsub 2", [](const Tensor& x) { return ops::rsub(x, 2.0); }},
      {"mul -3", [](const Tensor& x) { return ops::mul(x, -3.0); }},
      {"div 7", [](const Tensor& x) { return ops::div(x, 7.0); }},
      {"rdiv 2", [](const Tensor& x) { return ops::rdiv(x, 2.0); }},
      {"pow 2.5", [](const Tensor& x) { return ops::pow(x, 2.5); }},
      {"pow -1", [](const Tensor& x) { return ops::pow(x, -1.0); }},
  };
  for (DType dt : test::floating_dtypes())
    for (const auto& [name, op] : cases)
      expect_same_on_cuda(std::string(name) + " " + dtype_name(dt),
                          [&](const std::vector<Tensor>& in) { return outputs(op(in[0].t())); },
                          {input({6, 5}, dt, 0.5, 2)});
}

TEST(GpuElementwise, UnaryOpsMatchTheCpuForwardAndBackward) {
  REQUIRE_CUDA();
  struct Unary {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    double low, high;
  };
  const std::vector<Unary> cases = {
      {"neg", [](const Tensor& x) { return ops::neg(x); }, -2, 2},
      {"exp", [](const Tensor& x) { return ops::exp(x); }, -3, 3},
      {"log", [](const Tensor& x) { return ops::log(x); }, 0.1, 5},
      {"sqrt", [](const Tensor& x) { return ops::sqrt(x); }, 0.1, 5},
      {"abs", [](const Tensor& x) { return ops::abs(x); }, -2, 2},
      {"relu", [](const Tensor& x) { return ops::relu(x); }, -2, 2},
      {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, -30, 30},  // both branches of the stable form
      {"tanh", [](const Tensor& x) { return ops::tanh(x); }, -4, 4},
  };
  for (DType dt : test::floating_dtypes())
    for (const Unary& c : cases) {
      std::string what = std::string(c.name) + " " + dtype_name(dt);
      expect_same_on_cuda(what, [&](const std::vector<Tensor>& in) { return outputs(c.op(in[0])); },
                          {input({1000}, dt, c.low, c.high)});
      expect_same_on_cuda(what + " transposed",
                          [&](const std::vector<Tensor>& in) { return outputs(c.op(in[0].transpose(0, 2))); },
                          {input({3, 4, 5}, dt, c.low, c.high)});
    }
}

TEST(GpuElementwise, IntegerArithmeticIsExact) {
  REQUIRE_CUDA();
  Tensor a = ops::sub(whole_numbers({7, 5}, 200, DType::Int64), ops::full({}, 100, DType::Int64));
  Tensor b = ops::add(whole_numbers({5}, 9, DType::Int64), ops::full({}, 1, DType::Int64));  // 1 .. 9, no zero
  const std::vector<std::pair<const char*, test::MultiFn>> cases = {
      {"add", [](const std::vector<Tensor>& in) { return outputs(ops::add(in[0], in[1])); }},
      {"sub", [](const std::vector<Tensor>& in) { return outputs(ops::sub(in[0], in[1])); }},
      {"mul", [](const std::vector<Tensor>& in) { return outputs(ops::mul(in[0], in[1])); }},
      {"div", [](const std::vector<Tensor>& in) { return outputs(ops::div(in[0], in[1])); }},
      {"maximum", [](const std::vector<Tensor>& in) { return outputs(ops::maximum(in[0], in[1])); }},
      {"neg", [](const std::vector<Tensor>& in) { return outputs(ops::neg(in[0].t())); }},
  };
  for (const auto& [name, fn] : cases) expect_same_on_cuda(std::string(name) + " int64", fn, {a, b});
  Tensor u = whole_numbers({4, 6}, 120, DType::UInt8), v = whole_numbers({6}, 120, DType::UInt8);
  expect_same_on_cuda("add uint8", [](const std::vector<Tensor>& in) { return outputs(ops::add(in[0], in[1])); },
                      {u, v});
}

TEST(GpuElementwise, MixedDtypesPromoteAsOnTheCpu) {
  REQUIRE_CUDA();
  Tensor i = whole_numbers({3, 4}, 50, DType::Int64);
  Tensor f32 = input({4}, DType::Float32, -2, 2, false), f64 = input({3, 1}, DType::Float64, -2, 2, false);
  expect_same_on_cuda("int64 + float32",
                      [](const std::vector<Tensor>& in) { return outputs(ops::add(in[0], in[1])); }, {i, f32});
  expect_same_on_cuda("float32 * float64",
                      [](const std::vector<Tensor>& in) { return outputs(ops::mul(in[0], in[1])); }, {f32, f64});
  expect_same_on_cuda("uint8 - int64",
                      [](const std::vector<Tensor>& in) { return outputs(ops::sub(in[0], in[1])); },
                      {whole_numbers({3, 4}, 200, DType::UInt8), i});
}

TEST(GpuElementwise, IntegerDivisionByZeroFailsAsOnTheCpu) {
  REQUIRE_CUDA();
  Tensor a = ops::full({4}, 3, DType::Int64, test::cuda());
  Tensor b = Tensor::from_vector({1, 2, 0, 4}, {4}, DType::Int64).to(test::cuda());
  EXPECT_ERROR_CONTAINS(ops::div(a, b).to(Device::cpu()), "div: integer division by zero");
  // The device is usable again once the error was raised.
  EXPECT_EQ(ops::add(a, a).to(Device::cpu()).to_vector(), (std::vector<double>{6, 6, 6, 6}));
}

TEST(GpuComparisons, EveryComparisonMatchesTheCpuOnTiesAndBroadcasts) {
  REQUIRE_CUDA();
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<const char*, Cmp>> cases = {
      {"eq", ops::eq}, {"ne", ops::ne}, {"lt", ops::lt}, {"le", ops::le}, {"gt", ops::gt}, {"ge", ops::ge}};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
    // Whole numbers 0..3: many ties, so eq/le/ge see equal operands.
    Tensor a = whole_numbers({5, 6}, 4, dt), b = whole_numbers({6}, 4, dt), c = whole_numbers({6, 5}, 4, dt);
    for (const auto& [name, op] : cases) {
      std::string what = std::string(name) + " " + dtype_name(dt);
      test::MultiFn broadcast = [op = op](const std::vector<Tensor>& in) { return outputs(op(in[0], in[1])); };
      test::MultiFn transposed = [op = op](const std::vector<Tensor>& in) { return outputs(op(in[0], in[2].t())); };
      expect_same_on_cuda(what + " broadcast", broadcast, {a, b, c});
      expect_same_on_cuda(what + " transposed", transposed, {a, b, c});
    }
  }
  // NaN compares unequal to everything, itself included.
  double nan = std::nan("");
  Tensor x = Tensor::from_vector({nan, 1, nan, 2}, {4}), y = Tensor::from_vector({nan, 1, 0, 2}, {4});
  for (const auto& [name, op] : cases)
    expect_same_on_cuda(std::string(name) + " NaN",
                        [op = op](const std::vector<Tensor>& in) { return outputs(op(in[0], in[1])); }, {x, y});
}

}  // namespace
}  // namespace trainrt
