// nn.Module machinery through the real binary: registration and dotted names,
// train/eval recursion, state_dict round trips (buffers included), Sequential
// chaining, the printed tree, and a user-written pure-Lua module that trains.
#include "lua/lua_script_runner.h"

namespace trainrt::test {
namespace {

// A user module holding a built-in child, a list of children and its own parameter.
const char* kUserModule = R"lua(
local Block = nn.Module:extend("Block")
function Block:__init(n)
  self.fc = nn.Linear(n, n)
  self.norm = nn.BatchNorm1d(n)
  self.scale = trainrt.ones(n):requires_grad(true)
  self.cache = trainrt.zeros(n)  -- a plain tensor: neither parameter nor buffer
end
function Block:forward(x)
  return x + F.relu(self.norm(self.fc(x))) * self.scale
end
local Net = nn.Module:extend("Net")
function Net:__init()
  self.stem = nn.Linear(3, 4)
  self.blocks = { Block(4), Block(4) }
  self.head = nn.Sequential{ nn.ReLU(), nn.Linear(4, 2) }
end
function Net:forward(x)
  x = self.stem(x)
  for _, b in ipairs(self.blocks) do x = b(x) end
  return self.head(x)
end
)lua";

TEST(NnModule, NamedParametersBuffersAndChildren) {
  expect_script_passes(std::string(kUserModule) + R"lua(
local net = Net()
local names = {}
for name, p in net:named_parameters() do names[#names + 1] = name .. shape_str(p) end
check(table.concat(names, " ") == "stem.weight(4, 3) stem.bias(4) blocks.1.scale(4) blocks.1.fc.weight(4, 4) " ..
  "blocks.1.fc.bias(4) blocks.1.norm.weight(4) blocks.1.norm.bias(4) blocks.2.scale(4) blocks.2.fc.weight(4, 4) " ..
  "blocks.2.fc.bias(4) blocks.2.norm.weight(4) blocks.2.norm.bias(4) head.2.weight(2, 4) head.2.bias(2)",
  "named_parameters order and names")
check(#net:parameters() == 14, "parameters count")
check(net:num_parameters() == 12 + 4 + 2 * (4 + 16 + 4 + 4 + 4) + 8 + 2, "num_parameters")
local buffers = {}
for name in net:named_buffers() do buffers[#buffers + 1] = name end
check(table.concat(buffers, " ") == "blocks.1.norm.running_mean blocks.1.norm.running_var " ..
  "blocks.2.norm.running_mean blocks.2.norm.running_var", "named_buffers")
local kids = {}
for name in net:named_children() do kids[#kids + 1] = name end
check(table.concat(kids, " ") == "stem blocks.1 blocks.2 head", "named_children")
check(#net:modules() == 1 + 1 + 2 * 3 + 3, "modules counts every descendant")
-- a parameter shared by two modules is listed once
local shared = nn.Sequential{ nn.Linear(2, 2) }
shared:add(shared[1])
check(#shared:parameters() == 2, "shared parameters deduplicated")
)lua",
                       {"named_parameters order and names", "parameters count", "num_parameters", "named_buffers",
                        "named_children", "modules counts every descendant", "shared parameters deduplicated"});
}

TEST(NnModule, TrainEvalZeroGradAndTostring) {
  expect_script_passes(std::string(kUserModule) + R"lua(
local net = Net()
check(net.training and net.blocks[2].norm.training, "modules start in training mode")
check(net:eval() == net, "eval returns self")
local all_eval = true
for _, m in ipairs(net:modules()) do all_eval = all_eval and not m.training end
check(all_eval, "eval reaches every descendant")
net:train()
check(net.head[2].training, "train reaches every descendant")
local x = trainrt.randn(5, 3)
net(x):sum():backward()
check(net.stem.weight:grad() ~= nil, "backward reaches the stem")
net:zero_grad()
local g = net.stem.weight:grad()
check(g == nil or g:abs():sum():item() == 0, "zero_grad clears gradients")
local seq = nn.Sequential():add(nn.Conv2d(1, 2, 3)):add(nn.ReLU())
check(seq:size() == 2 and seq[2].__name == "ReLU", "Sequential:add chains")
local expected = "Sequential(\n  (1): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n  (2): ReLU()\n)"
check(tostring(seq) == expected, "Sequential tostring tree")
local nested = tostring(nn.Sequential{ nn.Sequential{ nn.Tanh() } })
check(nested == "Sequential(\n  (1): Sequential(\n    (1): Tanh()\n  )\n)", "nested tostring indents")
check(tostring(net):find("(blocks.1): Block(", 1, true) ~= nil, "user module tostring")
local w = net.stem.weight
check(net:to("cpu") == net and rawequal(net.stem.weight, w) and w:is_leaf(), "to(cpu) keeps cpu parameters")
)lua",
                       {"modules start in training mode", "eval returns self", "eval reaches every descendant",
                        "train reaches every descendant", "backward reaches the stem", "zero_grad clears gradients",
                        "Sequential:add chains", "Sequential tostring tree", "nested tostring indents",
                        "user module tostring", "to(cpu) keeps cpu parameters"});
}

TEST(NnModule, StateDictRoundTripIncludesBuffers) {
  expect_script_passes(std::string(kUserModule) + R"lua(
trainrt.manual_seed(11)
local a = Net()
a(trainrt.randn(6, 3))  -- moves the BatchNorm running stats away from 0 / 1
local sd = a:state_dict()
local keys = {}
for k in pairs(sd) do keys[#keys + 1] = k end
check(#keys == 18, "state_dict has parameters and buffers")
check(sd["blocks.2.norm.running_var"] ~= nil and sd["cache"] == nil, "state_dict names buffers, not plain tensors")
local b = Net()
local w_before = b.stem.weight
b:load_state_dict(sd)
check(rawequal(b.stem.weight, w_before), "load_state_dict keeps parameter identity")
check_close(b.blocks[1].norm.running_mean, a.blocks[1].norm.running_mean, 0, "buffers loaded")
a:eval(); b:eval()
local x = trainrt.randn(4, 3)
check_close(b(x), a(x), 0, "loaded model computes the same")
-- missing / unexpected keys and size mismatch are errors naming the key
sd["head.2.bias"] = nil
sd["extra.weight"] = trainrt.zeros(1)
local ok, err = pcall(function() b:load_state_dict(sd) end)
check(not ok and err:find("missing keys: head.2.bias", 1, true) and err:find("unexpected keys: extra.weight", 1, true),
  "strict load names missing and unexpected keys")
local r = b:load_state_dict(sd, false)
check(#r.missing_keys == 1 and #r.unexpected_keys == 1, "non-strict load reports keys")
local ok2, err2 = pcall(function() nn.Linear(3, 2):load_state_dict(nn.Linear(3, 4):state_dict()) end)
check(not ok2 and err2:find("size mismatch for bias: copying (4) into (2)", 1, true), "size mismatch names the key")
)lua",
                       {"state_dict has parameters and buffers", "state_dict names buffers, not plain tensors",
                        "load_state_dict keeps parameter identity", "buffers loaded", "loaded model computes the same",
                        "strict load names missing and unexpected keys", "non-strict load reports keys",
                        "size mismatch names the key"});
}

TEST(NnModule, UserWrittenModuleTrainsWithBuiltins) {
  // y = sum of two input features' signs -> 3 classes; a user module with a
  // residual block and built-in layers must fit it.
  expect_script_passes(std::string(kUserModule) + R"lua(
trainrt.manual_seed(12)
local net = Net()
local opt = optim.Adam{ net:parameters(), lr = 0.02 }
local x = trainrt.randn(64, 3)
local y = (x:narrow(2, 1, 1):gt(0):long() + x:narrow(2, 2, 1):gt(0):long()):view(64):ge(1):long()  -- (64) in {0, 1}
local first, last
for step = 1, 150 do
  opt:zero_grad()
  local loss = F.cross_entropy(net(x), y)
  loss:backward()
  opt:step()
  if step == 1 then first = loss:item() end
  last = loss:item()
end
check(last < 0.5 * first, "user module loss falls")
net:eval()
local acc = net(x):argmax(2):eq(y):float():mean():item()
check(acc > 0.9, "user module fits the data")
)lua",
                       {"user module loss falls", "user module fits the data"});
}

}  // namespace
}  // namespace trainrt::test
