// The tensor binding seen from a script run by the real trainrt binary:
// results of methods and operators against the C++ ops on the same values,
// tostring format, 1-based dims, autograd from Lua, no_grad, free/<close>.
#include <gtest/gtest.h>

#include <sstream>

#include "lua_script_runner.h"
#include "trainrt/ops.h"

namespace trainrt::test {
namespace {

// Prints `name v1 v2 ...` for each result; the C++ side parses these lines.
const char* kDumpPrelude = R"lua(
local function dump(name, t)
  local parts = { name }
  for _, v in ipairs(t:contiguous():view(-1):double():tolist()) do parts[#parts + 1] = string.format("%.9g", v) end
  print(table.concat(parts, " "))
end
local a = trainrt.tensor({{1.5, -2, 3}, {0.25, 4, -1}})
local b = trainrt.tensor({{2, 0.5, -1}, {3, 1, 2}})
)lua";

std::vector<double> values_of(const std::string& output, const std::string& name) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first != name) continue;
    std::vector<double> v;
    double x;
    while (words >> x) v.push_back(x);
    return v;
  }
  ADD_FAILURE() << "no line for " << name << " in:\n" << output;
  return {};
}

void expect_values(const std::string& output, const std::string& name, const Tensor& expected) {
  std::vector<double> got = values_of(output, name), want = expected.contiguous().to_vector();
  ASSERT_EQ(got.size(), want.size()) << name;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i]))) << name << " at " << i;
}

TEST(TensorBinding, MethodsAndOperatorsMatchCppOps) {
  ScriptResult r = run_lua_script(std::string(kDumpPrelude) + R"lua(
dump("add", a + b)
dump("sub_num_first", 1 - a)
dump("mul_num", a * 3)
dump("div_num_first", 2 / b)
dump("pow", a ^ 2)
dump("neg", -a)
dump("matmul", a:matmul(b:t()))
dump("sum_dim1", a:sum(1))
dump("mean_dim2_keep", a:mean(2, true))
dump("max_dim2", (a:max(2)))
dump("argmax_dim2", a:argmax(2))
dump("transpose", a:transpose(1, 2))
dump("narrow", a:narrow(2, 2, 2))
dump("select", a:select(1, 2))
dump("index", a[2])
dump("last_dim", a:sum(-1))
dump("relu_exp", a:relu():exp())
dump("gt", a:gt(1))
)lua");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Tensor a = Tensor::from_vector({1.5, -2, 3, 0.25, 4, -1}, {2, 3});
  Tensor b = Tensor::from_vector({2, 0.5, -1, 3, 1, 2}, {2, 3});
  expect_values(r.output, "add", ops::add(a, b));
  expect_values(r.output, "sub_num_first", ops::rsub(a, 1));
  expect_values(r.output, "mul_num", ops::mul(a, 3));
  expect_values(r.output, "div_num_first", ops::rdiv(b, 2));
  expect_values(r.output, "pow", ops::pow(a, 2));
  expect_values(r.output, "neg", ops::neg(a));
  expect_values(r.output, "matmul", ops::matmul(a, b.t()));
  expect_values(r.output, "sum_dim1", ops::sum(a, {0}));
  expect_values(r.output, "mean_dim2_keep", ops::mean(a, {1}, true));
  expect_values(r.output, "max_dim2", ops::max(a, 1));
  expect_values(r.output, "argmax_dim2", ops::argmax(a, 1));
  expect_values(r.output, "transpose", a.transpose(0, 1));
  expect_values(r.output, "narrow", a.narrow(1, 1, 2));
  expect_values(r.output, "select", a.select(0, 1));
  expect_values(r.output, "index", a.select(0, 1));
  expect_values(r.output, "last_dim", ops::sum(a, {1}));
  expect_values(r.output, "relu_exp", ops::exp(ops::relu(a)));
  expect_values(r.output, "gt", ops::gt(a, ops::scalar_like(a, 1)));
}

TEST(TensorBinding, ShapesDtypesAndOneBasedDims) {
  expect_script_passes(R"lua(
local t = trainrt.zeros(2, 3, 4)
check(t:size(1) == 2 and t:size(3) == 4 and t:size(-1) == 4, "size(dim) is 1-based")
check(#t == 2 and t:dim() == 3 and t:numel() == 24, "len dim numel")
check(table.concat(t:size(), ",") == "2,3,4", "size() table")
check(t:dtype() == "float32" and t:device() == "cpu:0", "dtype device")
check(trainrt.tensor{1, 2}:dtype() == "int64", "integer table gives int64")
check(trainrt.ones({2}, {dtype = "float64"}):dtype() == "float64", "dtype option")
check(table.concat(t:unsqueeze(1):size(), ",") == "1,2,3,4", "unsqueeze(1) adds a leading dim")
check(table.concat(t:permute(3, 1, 2):size(), ",") == "4,2,3", "permute with 1-based dims")
check(table.concat(t:flatten(2):size(), ",") == "2,12", "flatten from dim 2")
check(table.concat(trainrt.arange(6):view(2, 3):tolist()[2], ",") == "3,4,5", "arange view tolist")
local ok, err = pcall(function() return t:size(0) end)
check(not ok and err:find("dim 0 does not exist", 1, true) ~= nil, "dim 0 is an error")
)lua",
                      {"size(dim) is 1-based", "len dim numel", "size() table", "dtype device",
                       "integer table gives int64", "dtype option", "unsqueeze(1) adds a leading dim",
                       "permute with 1-based dims", "flatten from dim 2", "arange view tolist", "dim 0 is an error"});
}

TEST(TensorBinding, TostringLooksLikePyTorch) {
  ScriptResult r = run_lua_script(R"lua(
print(trainrt.tensor{{1.0, 2.5}, {3.0, 4.0}})
print(trainrt.tensor{1, 2, 3})
print(trainrt.tensor{1.0, 2.0})
print(trainrt.tensor(3.5))
print(trainrt.ones(2, {dtype = "float64"}))
print(trainrt.ones(2):requires_grad(true))
)lua");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor([1, 2, 3])\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor([1., 2.])\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor(3.5000)\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor([1., 1.], dtype=float64)\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensor([1., 1.], requires_grad=True)\n"), std::string::npos) << r.output;
}

TEST(TensorBinding, BackwardAndNoGradFromLua) {
  expect_script_passes(R"lua(
local x = trainrt.tensor({1.0, -2.0, 3.0}):requires_grad(true)
local y = (x * x * 3 + x):sum()
y:backward()
check_close(x:grad(), trainrt.tensor{7.0, -11.0, 19.0}, 1e-6, "grad of sum(3x^2 + x)")
check(x:is_leaf() and not y:is_leaf(), "is_leaf")
local z = trainrt.no_grad(function() return x * 2 end)
check(not z:requires_grad(), "no_grad result does not require grad")
check(trainrt.grad_enabled(), "grad mode restored after no_grad")
local ok = pcall(trainrt.no_grad, function() error("boom") end)
check(not ok and trainrt.grad_enabled(), "grad mode restored after an error inside no_grad")
x:zero_grad()
check(x:grad() == nil, "zero_grad drops the gradient")
)lua",
                      {"grad of sum(3x^2 + x)", "is_leaf", "no_grad result does not require grad",
                       "grad mode restored after no_grad", "grad mode restored after an error inside no_grad",
                       "zero_grad drops the gradient"});
}

TEST(TensorBinding, FreeAndCloseReleaseNativeMemoryAtOnce) {
  expect_script_passes(R"lua(
collectgarbage("stop")
local before = trainrt.memory().live_bytes
local t = trainrt.zeros(1024, 1024)
check(trainrt.memory().live_bytes - before >= 4 * 1024 * 1024, "4 MiB live while held")
t:free()
check(trainrt.memory().live_bytes - before < 4096, "free releases at once")
local ok, err = pcall(function() return t:sum() end)
check(not ok and err:find("freed", 1, true) ~= nil, "use after free is an error")
do
  local c <close> = trainrt.zeros(1024, 1024)
end
check(trainrt.memory().live_bytes - before < 4096, "<close> releases at scope end")
)lua",
                      {"4 MiB live while held", "free releases at once", "use after free is an error",
                       "<close> releases at scope end"});
}

// A 0-d tensor accepts dim 1 / -1 in dim arguments (like PyTorch's 0 / -1),
// but has no size to read or index to select: an error, not a read past the
// end of its (empty) sizes.
TEST(TensorBinding, SizeAndSelectOnAZeroDimTensorAreErrors) {
  expect_script_passes(R"lua(
local s = trainrt.tensor(3.5)
local ok, err = pcall(function() return s:size(1) end)
check(not ok and err:find("0-d tensor has no dims", 1, true), "size(1)")
ok, err = pcall(function() return s:size(-1) end)
check(not ok and err:find("0-d tensor has no dims", 1, true), "size(-1)")
ok, err = pcall(function() return s:select(1, 1) end)
check(not ok and err:find("0-d tensor has no dims", 1, true), "select")
check(#s:size() == 0, "size() of a scalar is {}")
)lua",
                       {"size(1)", "size(-1)", "select", "size() of a scalar is {}"});
}

}  // namespace
}  // namespace trainrt::test
