// trainrt.nn through the real binary: each module's forward against the
// functional op it wraps (or a manual formula), parameter shapes and PyTorch's
// default init bounds, BatchNorm's train/eval math and running statistics.
#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

TEST(NnModules, LinearMatchesFunctionalAndManualFormula) {
  expect_script_passes(R"lua(
trainrt.manual_seed(1)
local m = nn.Linear(5, 3)
check(shape_str(m.weight) == "(3, 5)" and shape_str(m.bias) == "(3)", "linear param shapes")
local x = trainrt.randn(4, 5)
local y = m(x)
check_close(y, F.linear(x, m.weight, m.bias), 1e-6, "linear vs F.linear")
check_close(y, x:matmul(m.weight:t()) + m.bias, 1e-5, "linear vs x W^T + b")
local nb = nn.Linear(5, 3, { bias = false })
check(nb.bias == nil and #nb:parameters() == 1, "linear without bias")
check_close(nb(x), x:matmul(nb.weight:t()), 1e-5, "linear no-bias forward")
-- PyTorch default init: kaiming_uniform(a=sqrt(5)) => U(-1/sqrt(in), 1/sqrt(in)), bias the same bound
local big = nn.Linear(400, 300)
local bound = 1 / math.sqrt(400)
local wmax = big.weight:abs():max():item()
check(wmax <= bound + 1e-7 and wmax > 0.95 * bound, "linear weight bound 1/sqrt(fan_in)")
local bmax = big.bias:abs():max():item()
check(bmax <= bound + 1e-7 and bmax > 0.8 * bound, "linear bias bound 1/sqrt(fan_in)")
check(math.abs(big.weight:mean():item()) < 0.01 * bound * 10, "linear weight mean near 0")
check(tostring(m) == "Linear(in_features=5, out_features=3, bias=true)", "linear tostring")
)lua",
                       {"linear param shapes", "linear vs F.linear", "linear vs x W^T + b", "linear without bias",
                        "linear no-bias forward", "linear weight bound 1/sqrt(fan_in)",
                        "linear bias bound 1/sqrt(fan_in)", "linear weight mean near 0", "linear tostring"});
}

TEST(NnModules, Conv2dMatchesFunctionalWithStridePaddingDilationGroups) {
  expect_script_passes(R"lua(
trainrt.manual_seed(2)
local x = trainrt.randn(2, 4, 9, 8)
local c = nn.Conv2d(4, 6, 3, { stride = 2, padding = 1 })
check(shape_str(c.weight) == "(6, 4, 3, 3)" and shape_str(c.bias) == "(6)", "conv param shapes")
local y = c(x)
check(shape_str(y) == "(2, 6, 5, 4)", "conv output shape")
check_close(y, F.conv2d(x, c.weight, c.bias, { stride = 2, padding = 1 }), 1e-6, "conv vs F.conv2d")
local g = nn.Conv2d(4, 6, { 3, 2 }, { dilation = 2, groups = 2, bias = false })
check(shape_str(g.weight) == "(6, 2, 3, 2)" and g.bias == nil, "grouped conv params")
check_close(g(x), F.conv2d(x, g.weight, nil, { dilation = 2, groups = 2 }), 1e-6, "grouped dilated conv vs F.conv2d")
-- a 1x1 conv is a per-pixel linear map: check against matmul
local p = nn.Conv2d(4, 3, 1)
local manual = x:permute(1, 3, 4, 2):matmul(p.weight:view(3, 4):t()) + p.bias  -- (N, H, W, 3)
check_close(p(x), manual:permute(1, 4, 2, 3), 1e-5, "1x1 conv vs matmul")
local big = nn.Conv2d(16, 8, 5)
local bound = 1 / math.sqrt(16 * 25)
local wmax = big.weight:abs():max():item()
check(wmax <= bound + 1e-7 and wmax > 0.95 * bound, "conv weight bound 1/sqrt(fan_in)")
check(big.bias:abs():max():item() <= bound + 1e-7, "conv bias bound")
check(tostring(c) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))", "conv tostring")
)lua",
                       {"conv param shapes", "conv output shape", "conv vs F.conv2d", "grouped conv params",
                        "grouped dilated conv vs F.conv2d", "1x1 conv vs matmul", "conv weight bound 1/sqrt(fan_in)",
                        "conv bias bound", "conv tostring"});
}

TEST(NnModules, ActivationsPoolingFlattenSoftmax) {
  expect_script_passes(R"lua(
trainrt.manual_seed(3)
local x = trainrt.randn(2, 3, 6, 6)
check_close(nn.ReLU()(x), x:maximum(0), 0, "relu")
check_close(nn.Sigmoid()(x), 1 / (1 + (-x):exp()), 1e-6, "sigmoid")
check_close(nn.Tanh()(x), F.tanh(x), 0, "tanh")
check_close(nn.MaxPool2d(2)(x), F.max_pool2d(x, 2), 0, "maxpool vs F")
check_close(nn.MaxPool2d(3, { stride = 2, padding = 1 })(x), F.max_pool2d(x, 3, { stride = 2, padding = 1 }), 0,
  "maxpool stride padding vs F")
-- 2x2 average pooling by hand on a view: (N, C, 3, 2, 3, 2) mean over the window dims
local manual = x:view(2, 3, 3, 2, 3, 2):mean({ 4, 6 })
check_close(nn.AvgPool2d(2)(x), manual, 1e-6, "avgpool vs manual mean")
check_close(nn.MaxPool2d(2)(x), x:view(2, 3, 3, 2, 3, 2):max(6):max(4), 0, "maxpool vs manual max")
check(shape_str(nn.Flatten()(x)) == "(2, 108)", "flatten keeps batch dim")
check(shape_str(nn.Flatten(3)(x)) == "(2, 3, 36)", "flatten from dim 3")
local z = trainrt.randn(4, 7)
local sm = nn.Softmax(2)(z)
check_close(sm:sum(2), trainrt.ones(4), 1e-6, "softmax rows sum to 1")
check_close(sm, z:exp() / z:exp():sum(2, true), 1e-6, "softmax vs exp/sum")
check_close(nn.LogSoftmax()(z), sm:log(), 1e-5, "log_softmax vs log(softmax)")
)lua",
                       {"relu", "sigmoid", "tanh", "maxpool vs F", "maxpool stride padding vs F",
                        "avgpool vs manual mean", "maxpool vs manual max", "flatten keeps batch dim",
                        "flatten from dim 3", "softmax rows sum to 1", "softmax vs exp/sum",
                        "log_softmax vs log(softmax)"});
}

TEST(NnModules, DropoutScalesInTrainingAndIsIdentityInEval) {
  expect_script_passes(R"lua(
trainrt.manual_seed(4)
local d = nn.Dropout(0.25)
local x = trainrt.ones(200, 100)
local y = d(x)
local zeros = y:eq(0):float():mean():item()
check(zeros > 0.22 and zeros < 0.28, "dropout zeroes about p")
local kept = y:sum():item() / y:ne(0):float():sum():item()
check_close(kept, 1 / 0.75, 1e-5, "dropout scales kept by 1/(1-p)")
d:eval()
check_close(d(x), x, 0, "dropout identity in eval")
)lua",
                       {"dropout zeroes about p", "dropout scales kept by 1/(1-p)", "dropout identity in eval"});
}

TEST(NnModules, BatchNorm2dTrainAndEvalMath) {
  expect_script_passes(R"lua(
trainrt.manual_seed(5)
local bn = nn.BatchNorm2d(3)
check(shape_str(bn.running_mean) == "(3)" and bn.running_var:sum():item() == 3, "bn buffers initialised")
bn.weight:detach():copy_(trainrt.tensor{ 1.5, 0.5, 2 })
bn.bias:detach():copy_(trainrt.tensor{ 0.1, -0.2, 0.3 })
local x = trainrt.randn(4, 3, 5, 5) * 2 + 1
local y = bn(x)
-- manual: per-channel mean and biased variance over N, H, W
local mean = x:mean({ 1, 3, 4 }, true)
local var = ((x - mean) ^ 2):mean({ 1, 3, 4 }, true)
local w = bn.weight:view(1, 3, 1, 1)
local b = bn.bias:view(1, 3, 1, 1)
check_close(y, (x - mean) / (var + 1e-5):sqrt() * w + b, 1e-4, "bn2d train output")
local n = 4 * 5 * 5
check_close(bn.running_mean, mean:view(3) * 0.1, 1e-5, "bn2d running_mean momentum 0.1")
check_close(bn.running_var, var:view(3) * (n / (n - 1)) * 0.1 + 0.9, 1e-5, "bn2d running_var unbiased")
-- gradients reach weight and bias
y:sum():backward()
check(bn.weight:grad() ~= nil and bn.bias:grad() ~= nil, "bn2d grads exist")
check_close(bn.bias:grad(), trainrt.full({ 3 }, n), 1e-3, "bn2d bias grad = count")
-- eval uses the running statistics
bn:eval()
local x2 = trainrt.randn(2, 3, 5, 5)
local rm, rv = bn.running_mean:view(1, 3, 1, 1), bn.running_var:view(1, 3, 1, 1)
check_close(bn(x2), (x2 - rm) / (rv + 1e-5):sqrt() * w + b, 1e-4, "bn2d eval output")
local before = bn.running_mean:clone()
bn(x2)
check_close(bn.running_mean, before, 0, "bn2d eval leaves running stats")
)lua",
                       {"bn buffers initialised", "bn2d train output", "bn2d running_mean momentum 0.1",
                        "bn2d running_var unbiased", "bn2d grads exist", "bn2d bias grad = count", "bn2d eval output",
                        "bn2d eval leaves running stats"});
}

TEST(NnModules, BatchNorm1dTrainAndEvalMath) {
  expect_script_passes(R"lua(
trainrt.manual_seed(6)
local bn = nn.BatchNorm1d(4, { momentum = 0.2, eps = 1e-3 })
local x = trainrt.randn(8, 4) * 3 - 2
local y = bn(x)
local mean = x:mean(1, true)
local var = x:var(1, false, true)
check_close(y, (x - mean) / (var + 1e-3):sqrt(), 1e-4, "bn1d train output")
check_close(bn.running_mean, mean:view(4) * 0.2, 1e-5, "bn1d running_mean")
check_close(bn.running_var, x:var(1, true) * 0.2 + 0.8, 1e-5, "bn1d running_var")
bn:eval()
check_close(bn(x), (x - bn.running_mean) / (bn.running_var + 1e-3):sqrt(), 1e-4, "bn1d eval output")
local seq = trainrt.randn(8, 4, 6)
bn:train()
local y3 = bn(seq)
local m3 = seq:mean({ 1, 3 }, true)
check_close(y3, (seq - m3) / (((seq - m3) ^ 2):mean({ 1, 3 }, true) + 1e-3):sqrt(), 1e-4, "bn1d (N, C, L) output")
)lua",
                       {"bn1d train output", "bn1d running_mean", "bn1d running_var", "bn1d eval output",
                        "bn1d (N, C, L) output"});
}

TEST(NnModules, LossesMatchManualFormulas) {
  expect_script_passes(R"lua(
trainrt.manual_seed(7)
local logits = trainrt.randn(5, 4)
local target = trainrt.tensor({ 0, 3, 1, 1, 2 }, { dtype = "int64" })
local lp = logits:tolist()
local manual = 0
for i = 1, 5 do
  local row, mx = lp[i], -math.huge
  for j = 1, 4 do mx = math.max(mx, row[j]) end
  local s = 0
  for j = 1, 4 do s = s + math.exp(row[j] - mx) end
  -- class labels are 0-based values: class c is column c + 1
  manual = manual - (row[target:tolist()[i] + 1] - mx - math.log(s))
end
check_close(nn.CrossEntropyLoss()(logits, target):item(), manual / 5, 1e-5, "cross entropy mean vs manual")
check_close(nn.CrossEntropyLoss{ reduction = "sum" }(logits, target):item(), manual, 1e-5, "cross entropy sum")
check(shape_str(nn.CrossEntropyLoss{ reduction = "none" }(logits, target)) == "(5)", "cross entropy none shape")
local a, b = trainrt.randn(3, 4), trainrt.randn(3, 4)
check_close(nn.MSELoss()(a, b):item(), ((a - b) ^ 2):mean():item(), 1e-6, "mse mean")
check_close(nn.MSELoss{ reduction = "sum" }(a, b):item(), ((a - b) ^ 2):sum():item(), 1e-5, "mse sum")
check(nn.functional == trainrt.F, "nn.functional is trainrt.F")
)lua",
                       {"cross entropy mean vs manual", "cross entropy sum", "cross entropy none shape", "mse mean",
                        "mse sum", "nn.functional is trainrt.F"});
}

TEST(NnModules, ConstructorErrorsAreClear) {
  ScriptResult r = run_lua_script(R"lua(
local nn = require "trainrt.nn"
nn.Conv2d(3, 4, 3, { groups = 2 })
)lua");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("must be divisible by groups"), std::string::npos) << r.output;
  r = run_lua_script(R"lua(
local nn = require "trainrt.nn"
nn.Sequential{ nn.ReLU(), 42 }
)lua");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("element 2 is not a Module"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trainrt::test
