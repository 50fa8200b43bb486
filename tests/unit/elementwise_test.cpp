// Element-wise ops: every binary, scalar, unary and comparison op against a
// plain-loop float64 reference on random inputs, with broadcasting and
// non-contiguous (transposed, narrowed) operands; finite-difference gradients
// for the differentiable ones; promotion rules and error messages.
#include <cmath>
#include <limits>

#include "reference.h"
#include "test_util.h"

namespace trainrt {
namespace {

using test::build;
using test::check_gradients;
using test::expect_close;
using test::Index;
using test::leaf;
using test::random_tensor;
using test::Ref;

using BinaryOp = std::function<Tensor(const Tensor&, const Tensor&)>;
using BinaryRef = std::function<double(double, double)>;

struct Binary {
  const char* name;
  BinaryOp op;
  BinaryRef ref;
  double a_low, a_high, b_low, b_high;  // input ranges where the op is smooth and defined
};

std::vector<Binary> binaries() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }, [](double a, double b) { return a + b; }, -2, 2, -2, 2},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); }, [](double a, double b) { return a - b; }, -2, 2, -2, 2},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }, [](double a, double b) { return a * b; }, -2, 2, -2, 2},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); }, [](double a, double b) { return a / b; }, -2, 2, 0.5, 2},
      {"pow", [](const Tensor& a, const Tensor& b) { return ops::pow(a, b); }, [](double a, double b) { return std::pow(a, b); }, 0.5, 2, -1.5, 1.5},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }, [](double a, double b) { return std::max(a, b); }, -2, 2, -2, 2},
  };
}

// Reference of a broadcasting binary op.
Tensor ref_binary(const Tensor& a, const Tensor& b, const BinaryRef& f) {
  Ref ra(a), rb(b);
  Shape shape = broadcast_shapes(a.sizes(), b.sizes(), "ref");
  return build(shape, [&](const Index& i) { return f(ra.broadcast_at(i), rb.broadcast_at(i)); });
}

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{}, {2, 3}}, {{5}, {}}};

TEST(Binary, ForwardMatchesReferenceWithBroadcasting) {
  for (const Binary& op : binaries()) {
    for (const auto& [sa, sb] : kBroadcastPairs) {
      SCOPED_TRACE(std::string(op.name) + " " + shape_str(sa) + " " + shape_str(sb));
      Tensor a = random_tensor(sa, op.a_low, op.a_high), b = random_tensor(sb, op.b_low, op.b_high);
      expect_close(op.op(a, b), ref_binary(a, b, op.ref), 1e-14, 1e-14);
    }
  }
}

TEST(Binary, ForwardOnTransposedAndNarrowedOperands) {
  for (const Binary& op : binaries()) {
    SCOPED_TRACE(op.name);
    Tensor a = random_tensor({4, 3}, op.a_low, op.a_high).t();               // (3, 4) transposed
    Tensor b = random_tensor({3, 6}, op.b_low, op.b_high).narrow(1, 1, 4);   // (3, 4) sliced
    expect_close(op.op(a, b), ref_binary(a, b, op.ref), 1e-14, 1e-14);
    Tensor row = random_tensor({2, 8}, op.b_low, op.b_high).select(0, 1).narrow(0, 2, 4);  // (4) offset view
    expect_close(op.op(a, row), ref_binary(a, row, op.ref), 1e-14, 1e-14);
  }
}

TEST(Binary, Float32MatchesFloat64Reference) {
  for (const Binary& op : binaries()) {
    SCOPED_TRACE(op.name);
    Tensor a = random_tensor({3, 5}, op.a_low, op.a_high), b = random_tensor({5}, op.b_low, op.b_high);
    Tensor out = op.op(a.to(DType::Float32), b.to(DType::Float32));
    EXPECT_EQ(out.dtype(), DType::Float32);
    expect_close(out, ref_binary(a, b, op.ref), 1e-5, 1e-6);
  }
}

TEST(Binary, GradientMatchesFiniteDifferences) {
  for (const Binary& op : binaries()) {
    for (const auto& [sa, sb] : kBroadcastPairs) {
      SCOPED_TRACE(std::string(op.name) + " " + shape_str(sa) + " " + shape_str(sb));
      check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0], in[1]); },
                      {leaf(sa, op.a_low, op.a_high), leaf(sb, op.b_low, op.b_high)});
    }
  }
}

TEST(Binary, GradientThroughNonContiguousOperands) {
  for (const Binary& op : binaries()) {
    SCOPED_TRACE(op.name);
    check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0].t(), in[1].narrow(1, 1, 4)); },
                    {leaf({4, 3}, op.a_low, op.a_high), leaf({3, 6}, op.b_low, op.b_high)});
  }
}

TEST(Binary, GradientWhenOnlyOneSideRequiresGrad) {
  Tensor b = random_tensor({4}, 0.5, 2);
  check_gradients([&](const std::vector<Tensor>& in) { return ops::div(in[0], b); }, {leaf({3, 4})});
  Tensor a = random_tensor({3, 4});
  check_gradients([&](const std::vector<Tensor>& in) { return ops::mul(a, in[0]); }, {leaf({3, 1})});
}

struct Scalar {
  const char* name;
  std::function<Tensor(const Tensor&, double)> op;
  BinaryRef ref;  // (x, s)
  double low, high, s;
};

std::vector<Scalar> scalars() {
  return {
      {"add", [](const Tensor& x, double s) { return ops::add(x, s); }, [](double x, double s) { return x + s; }, -2, 2, 1.5},
      {"sub", [](const Tensor& x, double s) { return ops::sub(x, s); }, [](double x, double s) { return x - s; }, -2, 2, 0.7},
      {"rsub", [](const Tensor& x, double s) { return ops::rsub(x, s); }, [](double x, double s) { return s - x; }, -2, 2, 0.7},
      {"mul", [](const Tensor& x, double s) { return ops::mul(x, s); }, [](double x, double s) { return x * s; }, -2, 2, -3},
      {"div", [](const Tensor& x, double s) { return ops::div(x, s); }, [](double x, double s) { return x / s; }, -2, 2, 4},
      {"rdiv", [](const Tensor& x, double s) { return ops::rdiv(x, s); }, [](double x, double s) { return s / x; }, 0.5, 2, 3},
      {"pow", [](const Tensor& x, double s) { return ops::pow(x, s); }, [](double x, double s) { return std::pow(x, s); }, 0.5, 2, 2.5},
      {"pow_int", [](const Tensor& x, double s) { return ops::pow(x, s); }, [](double x, double s) { return std::pow(x, s); }, -2, 2, 3},
  };
}

TEST(ScalarOps, ForwardMatchesReference) {
  for (const Scalar& op : scalars()) {
    SCOPED_TRACE(op.name);
    Tensor x = random_tensor({3, 4}, op.low, op.high);
    Ref r(x);
    expect_close(op.op(x, op.s), build(x.sizes(), [&](const Index& i) { return op.ref(r(i), op.s); }), 1e-14, 1e-14);
    Tensor xt = random_tensor({5, 3}, op.low, op.high).t();  // non-contiguous
    Ref rt(xt);
    expect_close(op.op(xt, op.s), build(xt.sizes(), [&](const Index& i) { return op.ref(rt(i), op.s); }), 1e-14, 1e-14);
  }
}

TEST(ScalarOps, GradientMatchesFiniteDifferences) {
  for (const Scalar& op : scalars()) {
    SCOPED_TRACE(op.name);
    check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0], op.s); }, {leaf({2, 3}, op.low, op.high)});
    check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0].t(), op.s); }, {leaf({3, 2}, op.low, op.high)});
  }
}

TEST(ScalarOps, KeepIntegerTypesForIntegerScalars) {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}, DType::Int64);
  Tensor y = ops::add(x, 2.0);
  EXPECT_EQ(y.dtype(), DType::Int64);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{3, 4, 5}));
  Tensor z = ops::mul(x, 0.5);
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.to_vector(), (std::vector<double>{0.5, 1, 1.5}));
}

struct Unary {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double low, high;
};

std::vector<Unary> unaries() {
  return {
      {"neg", [](const Tensor& x) { return ops::neg(x); }, [](double x) { return -x; }, -2, 2},
      {"exp", [](const Tensor& x) { return ops::exp(x); }, [](double x) { return std::exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return ops::log(x); }, [](double x) { return std::log(x); }, 0.1, 3},
      {"sqrt", [](const Tensor& x) { return ops::sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.1, 3},
      {"abs", [](const Tensor& x) { return ops::abs(x); }, [](double x) { return std::fabs(x); }, -2, 2},
      {"relu", [](const Tensor& x) { return ops::relu(x); }, [](double x) { return x > 0 ? x : 0; }, -2, 2},
      {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, [](double x) { return 1 / (1 + std::exp(-x)); }, -4, 4},
      {"tanh", [](const Tensor& x) { return ops::tanh(x); }, [](double x) { return std::tanh(x); }, -2, 2},
  };
}

TEST(Unary, ForwardMatchesReference) {
  for (const Unary& op : unaries()) {
    SCOPED_TRACE(op.name);
    for (const Tensor& x : {random_tensor({3, 4}, op.low, op.high), random_tensor({4, 3}, op.low, op.high).t(),
                            random_tensor({3, 7}, op.low, op.high).narrow(1, 2, 4), random_tensor({}, op.low, op.high)}) {
      Ref r(x);
      expect_close(op.op(x), build(x.sizes(), [&](const Index& i) { return op.ref(r(i)); }), 1e-14, 1e-14);
    }
    Tensor x = random_tensor({6}, op.low, op.high);
    Ref r(x);
    expect_close(op.op(x.to(DType::Float32)), build(x.sizes(), [&](const Index& i) { return op.ref(r(i)); }), 1e-5, 1e-6);
  }
}

TEST(Unary, GradientMatchesFiniteDifferences) {
  for (const Unary& op : unaries()) {
    SCOPED_TRACE(op.name);
    check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0]); }, {leaf({3, 4}, op.low, op.high)});
    check_gradients([&](const std::vector<Tensor>& in) { return op.op(in[0].t().narrow(0, 1, 2)); },
                    {leaf({3, 4}, op.low, op.high)});
  }
}

TEST(Unary, SigmoidIsStableForLargeInputs) {
  Tensor x = Tensor::from_vector({-1000, -50, 0, 50, 1000}, {5}, DType::Float32);
  std::vector<double> y = ops::sigmoid(x).to_vector();
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[2], 0.5);
  EXPECT_EQ(y[4], 1);
  for (double v : y) EXPECT_TRUE(std::isfinite(v));
}

TEST(Unary, FloatingOnlyOpsRefuseIntegers) {
  Tensor x = Tensor::from_vector({1, 2}, {2}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::exp(x), "exp: needs a floating tensor, got int64");
  EXPECT_EQ(ops::neg(x).to_vector(), (std::vector<double>{-1, -2}));  // neg works on integers
}

struct Compare {
  const char* name;
  BinaryOp op;
  std::function<bool(double, double)> ref;
};

std::vector<Compare> comparisons() {
  return {
      {"eq", [](const Tensor& a, const Tensor& b) { return ops::eq(a, b); }, [](double a, double b) { return a == b; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ops::ne(a, b); }, [](double a, double b) { return a != b; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return ops::lt(a, b); }, [](double a, double b) { return a < b; }},
      {"le", [](const Tensor& a, const Tensor& b) { return ops::le(a, b); }, [](double a, double b) { return a <= b; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return ops::gt(a, b); }, [](double a, double b) { return a > b; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ops::ge(a, b); }, [](double a, double b) { return a >= b; }},
  };
}

// Random small integers as float64, so that ties (eq/le/ge) really occur.
Tensor random_small_ints(const Shape& shape) {
  std::vector<double> v = random_tensor(shape, 0, 3).to_vector();
  for (double& x : v) x = std::floor(x);
  return Tensor::from_vector(v, shape, DType::Float64);
}

TEST(Comparison, MatchesReferenceWithBroadcastingAndViews) {
  for (const Compare& op : comparisons()) {
    SCOPED_TRACE(op.name);
    std::vector<std::pair<Tensor, Tensor>> cases = {
        {random_small_ints({4, 5}), random_small_ints({4, 5})},
        {random_small_ints({4, 5}), random_small_ints({5})},
        {random_small_ints({5, 4}).t(), random_small_ints({4, 8}).narrow(1, 3, 5)},
        {random_tensor({3, 3}), random_tensor({3, 3})}};
    for (const auto& [a, b] : cases) {
      Tensor out = op.op(a, b);
      EXPECT_EQ(out.dtype(), DType::UInt8);
      expect_close(out, ref_binary(a, b, [&](double x, double y) { return op.ref(x, y) ? 1.0 : 0.0; }), 0, 0);
    }
  }
}

TEST(Comparison, PromotesMixedDtypesAndRecordsNoGradient) {
  Tensor ints = Tensor::from_vector({1, 2, 3}, {3}, DType::Int64);
  Tensor floats = Tensor::from_vector({1.5, 2, 2.5}, {3}, DType::Float32);
  EXPECT_EQ(ops::lt(ints, floats).to_vector(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(ops::eq(ints, floats).to_vector(), (std::vector<double>{0, 1, 0}));
  Tensor x = leaf({3});
  Tensor c = ops::gt(x, ops::zeros({3}, DType::Float64));
  EXPECT_FALSE(c.requires_grad());
}

TEST(Promotion, FollowsUint8Int64Float32Float64) {
  EXPECT_EQ(ops::promote_types(DType::UInt8, DType::Int64), DType::Int64);
  EXPECT_EQ(ops::promote_types(DType::Int64, DType::Float32), DType::Float32);
  EXPECT_EQ(ops::promote_types(DType::Float32, DType::Float64), DType::Float64);
  EXPECT_EQ(ops::promote_types(DType::Float64, DType::UInt8), DType::Float64);
  Tensor i = Tensor::from_vector({1, 2}, {2}, DType::Int64);
  Tensor f = Tensor::from_vector({0.5, 0.25}, {2}, DType::Float32);
  Tensor y = ops::add(i, f);
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{1.5, 2.25}));
}

TEST(Promotion, GradientReturnsInInputDtype) {
  Tensor x = leaf({3});
  Tensor f = Tensor::from_vector({1, 2, 3}, {3}, DType::Float32);
  ops::sum(ops::mul(x, f)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1, 2, 3}));
}

TEST(Binary, ErrorsNameShapesAndValues) {
  EXPECT_ERROR_CONTAINS(ops::add(random_tensor({2, 3}), random_tensor({4})), "add: shapes (2, 3) and (4) cannot be broadcast");
  Tensor i = Tensor::from_vector({4, 6}, {2}, DType::Int64);
  Tensor z = Tensor::from_vector({2, 0}, {2}, DType::Int64);
  EXPECT_ERROR_CONTAINS(ops::div(i, z), "div: integer division by zero");
}

TEST(Binary, IntegerDivisionOfTheMostNegativeValueByMinusOneWraps) {
  // INT64_MIN / -1 traps (SIGFPE) as a machine division; it wraps to INT64_MIN.
  Tensor i = Tensor::from_vector({-9223372036854775808.0, 7}, {2}, DType::Int64);
  Tensor m = Tensor::from_vector({-1, -1}, {2}, DType::Int64);
  Tensor q = ops::div(i, m);
  EXPECT_EQ(q.data<int64_t>()[0], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(q.data<int64_t>()[1], -7);
}

TEST(Unary, BackwardThroughAnEmptyNonContiguousView) {
  // x.t() of a (3, 0) leaf is (0, 3) with strides that do not merge; the
  // activation backward kernels then see zero rows over a size-0 outer dim.
  for (auto f : {ops::relu, ops::sigmoid, ops::tanh}) {
    Tensor x = Tensor::empty({3, 0}, DType::Float64).set_requires_grad(true);
    ops::sum(f(x.t())).backward();
    EXPECT_EQ(x.grad().sizes(), (Shape{3, 0}));
  }
}

}  // namespace
}  // namespace trainrt
