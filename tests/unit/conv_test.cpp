// conv2d against a plain-loop float64 reference (stride, padding, dilation,
// groups, with and without bias, float32 too), finite-difference gradients for
// input, weight and bias (non-contiguous input included), and shape errors.
// One input channel per group (first layers, depthwise) runs ops-cpu's direct
// kernels (conv_direct.cpp), with their own reference and gradient tests.
#include "test_util.h"
#include "trainrt/dispatch.h"

namespace trainrt {
namespace {

using test::expect_close;
using test::leaf;
using test::random_tensor;

// y[n, o, oh, ow] = b[o] + sum_{c in group(o), i, j} x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] * w[o, c', i, j]
Tensor ref_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ops::Conv2dOptions& o) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t O = w.size(0), Cg = w.size(1), kh = w.size(2), kw = w.size(3), G = o.groups, Og = O / G;
  int64_t OH = (H + 2 * o.padding[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
  int64_t OW = (W + 2 * o.padding[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
  std::vector<double> xv = x.contiguous().to_vector(), wv = w.to_vector(), bv;
  if (b.defined()) bv = b.to_vector();
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = b.defined() ? bv[oc] : 0.0;
          int64_t g = oc / Og;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t ih = oh * o.stride[0] - o.padding[0] + i * o.dilation[0];
                int64_t iw = ow * o.stride[1] - o.padding[1] + j * o.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += xv[((n * C + g * Cg + c) * H + ih) * W + iw] * wv[((oc * Cg + c) * kh + i) * kw + j];
              }
          y.push_back(s);
        }
  return Tensor::from_vector(y, {N, O, OH, OW}, DType::Float64);
}

ops::Conv2dOptions opts(std::array<int64_t, 2> stride, std::array<int64_t, 2> pad, std::array<int64_t, 2> dil,
                        int64_t groups) {
  ops::Conv2dOptions o;
  o.stride = stride;
  o.padding = pad;
  o.dilation = dil;
  o.groups = groups;
  return o;
}

TEST(Conv, ForwardMatchesReferenceBasic) {
  Tensor x = random_tensor({2, 3, 7, 6}), w = random_tensor({4, 3, 3, 3}), b = random_tensor({4});
  ops::Conv2dOptions o = opts({1, 1}, {1, 1}, {1, 1}, 1);
  Tensor y = ops::conv2d(x, w, b, o);
  ASSERT_EQ(y.sizes(), (Shape{2, 4, 7, 6}));
  expect_close(y, ref_conv2d(x, w, b, o), 1e-12, 1e-12);
}

TEST(Conv, ForwardStridePaddingDilation) {
  Tensor x = random_tensor({2, 3, 9, 11}), w = random_tensor({5, 3, 3, 2}), b = random_tensor({5});
  ops::Conv2dOptions o = opts({2, 3}, {1, 2}, {2, 1}, 1);
  expect_close(ops::conv2d(x, w, b, o), ref_conv2d(x, w, b, o), 1e-12, 1e-12);
  // Padding wider than the dilated kernel reach on one side, stride 1 with dilation 2.
  ops::Conv2dOptions o2 = opts({1, 1}, {3, 0}, {2, 2}, 1);
  expect_close(ops::conv2d(x, w, Tensor(), o2), ref_conv2d(x, w, Tensor(), o2), 1e-12, 1e-12);
}

TEST(Conv, ForwardGroups) {
  Tensor x = random_tensor({3, 4, 6, 5}), w = random_tensor({6, 2, 3, 3}), b = random_tensor({6});
  ops::Conv2dOptions o = opts({1, 2}, {1, 1}, {1, 1}, 2);
  expect_close(ops::conv2d(x, w, b, o), ref_conv2d(x, w, b, o), 1e-12, 1e-12);
  // Depthwise: groups == channels.
  Tensor wd = random_tensor({4, 1, 3, 3});
  ops::Conv2dOptions od = opts({1, 1}, {1, 1}, {1, 1}, 4);
  expect_close(ops::conv2d(x, wd, Tensor(), od), ref_conv2d(x, wd, Tensor(), od), 1e-12, 1e-12);
}

TEST(Conv, ForwardFloat32AndNonContiguousInput) {
  // x arrives as an NHWC tensor permuted to NCHW (not contiguous).
  Tensor x = random_tensor({2, 8, 8, 3}).permute({0, 3, 1, 2});
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = random_tensor({6, 3, 3, 3}), b = random_tensor({6});
  ops::Conv2dOptions o = opts({1, 1}, {1, 1}, {1, 1}, 1);
  Tensor y32 = ops::conv2d(x.to(DType::Float32), w.to(DType::Float32), b.to(DType::Float32), o);
  EXPECT_EQ(y32.dtype(), DType::Float32);
  expect_close(y32, ref_conv2d(x, w, b, o), 1e-4, 1e-4);
}

TEST(Conv, GradientsBasic) {
  ops::Conv2dOptions o = opts({1, 1}, {1, 1}, {1, 1}, 1);
  test::check_gradients([o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], o); },
                        {leaf({2, 2, 5, 4}), leaf({3, 2, 3, 3}), leaf({3})});
}

TEST(Conv, GradientsStridePaddingDilation) {
  ops::Conv2dOptions o = opts({2, 1}, {2, 1}, {2, 2}, 1);
  test::check_gradients([o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], in[2], o); },
                        {leaf({2, 2, 7, 6}), leaf({3, 2, 2, 3}), leaf({3})});
}

TEST(Conv, GradientsGroupsTwoWithoutBias) {
  ops::Conv2dOptions o = opts({2, 2}, {1, 1}, {1, 1}, 2);
  test::check_gradients([o](const std::vector<Tensor>& in) { return ops::conv2d(in[0], in[1], Tensor(), o); },
                        {leaf({2, 4, 5, 5}), leaf({4, 2, 3, 3})});
}

TEST(Conv, GradientsNonContiguousInputAndOnlyWeight) {
  ops::Conv2dOptions o = opts({1, 1}, {1, 0}, {1, 1}, 1);
  test::check_gradients(
      [o](const std::vector<Tensor>& in) { return ops::conv2d(in[0].permute({0, 3, 1, 2}), in[1], in[2], o); },
      {leaf({2, 5, 4, 2}), leaf({3, 2, 3, 2}), leaf({3})});
  // Input that does not require grad (as the first layer of a CNN): only w and b get gradients.
  Tensor x = random_tensor({2, 1, 6, 6});
  test::check_gradients([o, x](const std::vector<Tensor>& in) { return ops::conv2d(x, in[0], in[1], o); },
                        {leaf({2, 1, 3, 3}), leaf({2})});
}

// float32 takes oneDNN when the plugin has it (float64 always im2col): both paths must
// agree on y, dx, dw and db for stride, padding, dilation and groups.
TEST(Conv, Float32PathMatchesFloat64Path) {
  struct Case {
    Shape x, w;
    ops::Conv2dOptions o;
  };
  std::vector<Case> cases = {{{4, 3, 9, 8}, {8, 3, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)},
                             {{2, 4, 11, 9}, {6, 2, 3, 2}, opts({2, 1}, {1, 2}, {2, 1}, 2)},
                             {{3, 1, 28, 28}, {32, 1, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)},
                             {{2, 32, 14, 14}, {64, 32, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)}};
  for (const Case& c : cases) {
    Tensor x64 = leaf(c.x), w64 = leaf(c.w), b64 = leaf({c.w[0]});
    Tensor x32 = x64.detach().to(DType::Float32).set_requires_grad(true);
    Tensor w32 = w64.detach().to(DType::Float32).set_requires_grad(true);
    Tensor b32 = b64.detach().to(DType::Float32).set_requires_grad(true);
    Tensor y64 = ops::conv2d(x64, w64, b64, c.o), y32 = ops::conv2d(x32, w32, b32, c.o);
    Tensor g = random_tensor(y64.sizes());
    y64.backward(g);
    y32.backward(g.to(DType::Float32));
    expect_close(y32, y64, 1e-4, 1e-4);
    expect_close(x32.grad(), x64.grad(), 1e-4, 1e-4);
    expect_close(w32.grad(), w64.grad(), 1e-4, 1e-3);
    expect_close(b32.grad(), b64.grad(), 1e-4, 1e-3);
  }
}

// float32 weight and bias gradients with one group and channels in multiples of
// 8 take ops-cpu's AVX2 register-tile kernel (conv_weight_grad_blocked.cpp) on
// CPUs with AVX2: against the float64 path for every tile width (1, 2 and 3
// blocks of 8 output channels), stride, dilation, padding larger than the
// kernel, 1x1, 5x5 and non-square kernels, odd planes and a batch of one; and
// the same bits whatever the thread count (each element summed by one thread).
TEST(Conv, Float32WeightGradientOverChannelBlocksMatchesFloat64) {
  struct Case {
    Shape x, w;
    ops::Conv2dOptions o;
  };
  std::vector<Case> cases = {{{3, 8, 6, 5}, {8, 8, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)},
                             {{2, 16, 7, 9}, {16, 16, 3, 2}, opts({2, 1}, {0, 1}, {1, 2}, 1)},
                             {{1, 24, 5, 5}, {24, 24, 1, 1}, opts({1, 1}, {2, 0}, {1, 1}, 1)},
                             {{2, 8, 9, 8}, {40, 8, 5, 5}, opts({1, 2}, {2, 2}, {2, 1}, 1)},
                             {{5, 32, 14, 14}, {64, 32, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)}};
  const int saved_threads = num_threads();
  for (const Case& c : cases) {
    SCOPED_TRACE("w " + std::to_string(c.w[0]) + "x" + std::to_string(c.w[1]) + "x" + std::to_string(c.w[2]) + "x" +
                 std::to_string(c.w[3]));
    // Inputs float32 values, so the float64 run differs only by the float32 sums.
    Tensor x32 = random_tensor(c.x, -1, 1, DType::Float32), x64 = x32.to(DType::Float64);
    Tensor w64 = leaf(c.w), b64 = leaf({c.w[0]});
    Tensor y64 = ops::conv2d(x64, w64, b64, c.o);
    Tensor g32 = random_tensor(y64.sizes(), -1, 1, DType::Float32);
    y64.backward(g32.to(DType::Float64));
    Tensor dw_one_thread, db_one_thread;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Tensor w32 = w64.detach().to(DType::Float32).set_requires_grad(true);
      Tensor b32 = b64.detach().to(DType::Float32).set_requires_grad(true);
      ops::conv2d(x32, w32, b32, c.o).backward(g32);
      // |dw| reaches ~10 (980 products of two U(-1, 1)); float32 sums of 196 of them err ~1e-5.
      expect_close(w32.grad(), w64.grad(), 1e-4, 1e-4);
      expect_close(b32.grad(), b64.grad(), 1e-6, 1e-6);  // summed in double
      if (threads == 1) {
        dw_one_thread = w32.grad();
        db_one_thread = b32.grad();
        continue;
      }
      test::expect_bitwise(w32.grad(), dw_one_thread, std::to_string(threads) + " threads, dw");
      test::expect_bitwise(b32.grad(), db_one_thread, std::to_string(threads) + " threads, db");
    }
  }
  set_num_threads(saved_threads);
}

// One input channel per group: the direct kernels, unit stride (the padded-plane
// path, dilation and uneven padding included) and other strides (the row path),
// float64 and float32, a bias or none, a depth multiplier (O = 2G), the fused
// ReLU, and weight and bias gradients against the float64 reference's
// finite differences and the float32 run (ops-cpu's AVX2 tiles across 8 output
// channels where O % 8 == 0 and the stride is 1), the same on 3 threads.
TEST(Conv, SingleInputChannelPerGroupMatchesReference) {
  struct Case {
    Shape x, w;
    ops::Conv2dOptions o;
  };
  std::vector<Case> cases = {{{3, 1, 28, 28}, {32, 1, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1)},
                             {{2, 1, 9, 7}, {4, 1, 5, 3}, opts({1, 1}, {2, 0}, {1, 2}, 1)},
                             {{2, 1, 10, 11}, {3, 1, 3, 3}, opts({2, 3}, {1, 2}, {1, 1}, 1)},
                             {{2, 3, 8, 6}, {6, 1, 3, 3}, opts({1, 1}, {1, 1}, {2, 1}, 3)},
                             {{1, 4, 7, 7}, {4, 1, 2, 2}, opts({2, 2}, {0, 0}, {1, 1}, 4)},
                             // AVX2 tiles: 25 taps in passes of 12, 12 and 1; 5 blocks of 8 channels
                             {{2, 1, 12, 10}, {16, 1, 5, 5}, opts({1, 1}, {2, 1}, {1, 2}, 1)},
                             {{3, 1, 6, 7}, {40, 1, 1, 1}, opts({1, 1}, {0, 0}, {1, 1}, 1)}};
  const int saved_threads = num_threads();
  for (const Case& c : cases) {
    SCOPED_TRACE("x " + shape_str(c.x) + " w " + shape_str(c.w));
    Tensor x = random_tensor(c.x), w = random_tensor(c.w), b = random_tensor({c.w[0]});
    Tensor ref = ref_conv2d(x, w, b, c.o);
    expect_close(ops::conv2d(x, w, b, c.o), ref, 1e-12, 1e-12);
    expect_close(ops::conv2d(x, w, Tensor(), c.o), ref_conv2d(x, w, Tensor(), c.o), 1e-12, 1e-12);
    Tensor x32 = x.to(DType::Float32), w32 = w.to(DType::Float32), b32 = b.to(DType::Float32);
    expect_close(ops::conv2d(x32, w32, b32, c.o), ref, 1e-5, 1e-5);
    // conv2d_relu, the kernel a compiled step fuses conv2d + relu into
    Tensor fused = Tensor::empty(ref.sizes(), DType::Float32);
    const ops::Conv2dOptions& o = c.o;
    call_kernel("conv2d_relu", {x32, w32, b32}, {fused},
                {o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], o.groups});
    expect_close(fused, ops::relu(ref), 1e-5, 1e-5);
    // weight and bias gradients: float64 by finite differences, float32 against float64
    test::check_gradients([o, x](const std::vector<Tensor>& in) { return ops::conv2d(x, in[0], in[1], o); },
                          {w.detach().set_requires_grad(true), b.detach().set_requires_grad(true)});
    Tensor w64 = w.detach().set_requires_grad(true), b64 = b.detach().set_requires_grad(true);
    Tensor wf = w32.detach().set_requires_grad(true), bf = b32.detach().set_requires_grad(true);
    Tensor g = random_tensor(ref.sizes());
    ops::conv2d(x, w64, b64, o).backward(g);
    ops::conv2d(x32, wf, bf, o).backward(g.to(DType::Float32));
    expect_close(wf.grad(), w64.grad(), 1e-4, 1e-4);
    expect_close(bf.grad(), b64.grad(), 1e-4, 1e-4);
    // the same bits on 3 threads: each output channel is summed by one thread
    set_num_threads(3);
    Tensor wt = w32.detach().set_requires_grad(true), bt = b32.detach().set_requires_grad(true);
    ops::conv2d(x32, wt, bt, o).backward(g.to(DType::Float32));
    set_num_threads(saved_threads);
    test::expect_bitwise(wt.grad(), wf.grad(), "dw on 3 threads");
    test::expect_bitwise(bt.grad(), bf.grad(), "db on 3 threads");
  }
}

// The inference block (conv2d_relu_max_pool2d): without a graph it runs the
// fused kernel chunk by chunk over the batch (8 MiB of convolution output per
// chunk: 300 samples of (32, 32, 32) are 5 chunks in float32, 10 in float64),
// bit for bit the composition; with a graph it is the composition.
TEST(Conv, ReluMaxPoolBlockEqualsTheComposition) {
  struct Case {
    Shape x, w;
    ops::Conv2dOptions o;
    ops::Pool2dOptions p;
  };
  ops::Pool2dOptions pool2, pool3s2;
  pool3s2.kernel = {3, 3};
  pool3s2.stride = {2, 2};
  pool3s2.padding = {1, 1};
  std::vector<Case> cases = {{{300, 2, 32, 32}, {32, 2, 3, 3}, opts({1, 1}, {1, 1}, {1, 1}, 1), pool2},
                             {{3, 4, 11, 9}, {6, 2, 3, 2}, opts({2, 1}, {1, 2}, {1, 1}, 2), pool3s2},
                             {{2, 1, 9, 9}, {4, 1, 3, 3}, opts({1, 1}, {0, 0}, {1, 1}, 1), pool2}};
  for (const Case& c : cases)
    for (DType dt : {DType::Float64, DType::Float32}) {
      SCOPED_TRACE("x " + shape_str(c.x) + " " + dtype_name(dt));
      Tensor x = random_tensor(c.x).to(dt), w = random_tensor(c.w).to(dt), b = random_tensor({c.w[0]}).to(dt);
      Tensor expected = ops::max_pool2d(ops::relu(ops::conv2d(x, w, b, c.o)), c.p);
      NoGradGuard no_grad;
      Tensor fused = ops::conv2d_relu_max_pool2d(x, w, b, c.o, c.p);
      ASSERT_EQ(fused.sizes(), expected.sizes());
      EXPECT_EQ(fused.to_vector(), expected.to_vector());
      EXPECT_EQ(ops::conv2d_relu_max_pool2d(x, w, Tensor(), c.o, c.p).to_vector(),
                ops::max_pool2d(ops::relu(ops::conv2d(x, w, Tensor(), c.o)), c.p).to_vector());
    }
  // With a graph: the composition's gradients, checked by finite differences.
  ops::Conv2dOptions o = opts({1, 1}, {1, 1}, {1, 1}, 1);
  test::check_gradients(
      [o](const std::vector<Tensor>& in) { return ops::conv2d_relu_max_pool2d(in[0], in[1], in[2], o, {}); },
      {leaf({2, 2, 6, 6}), leaf({3, 2, 3, 3}), leaf({3})});
}

TEST(Conv, Errors) {
  Tensor x = ops::zeros({64, 3, 28, 28});
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, ops::zeros({32, 1, 3, 3})),
                        "conv2d: input (64, 3, 28, 28) has 3 channels but weight (32, 1, 3, 3) expects 1 (groups=1)");
  EXPECT_ERROR_CONTAINS(ops::conv2d(ops::zeros({1, 1, 2, 2}), ops::zeros({4, 1, 3, 3})), "gives output size (0, 0)");
  EXPECT_ERROR_CONTAINS(ops::conv2d(ops::zeros({1, 1, 2, 2}), ops::zeros({4, 1, 3, 3}), Tensor(), opts({2, 2}, {0, 0}, {1, 1}, 1)),
                        "gives output size (0, 0)");
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, ops::zeros({4, 1, 3, 3}), Tensor(), opts({1, 1}, {0, 0}, {1, 1}, 2)),
                        "must both be divisible by groups=2");
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, ops::zeros({4, 3, 3, 3}), ops::zeros({5})), "conv2d: bias (5) for weight (4, 3, 3, 3)");
  EXPECT_ERROR_CONTAINS(ops::conv2d(ops::zeros({3, 28, 28}), ops::zeros({4, 3, 3, 3})), "must be 4-D (N, C, H, W), got (3, 28, 28)");
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, ops::zeros({4, 3, 3, 3}), Tensor(), opts({0, 1}, {0, 0}, {1, 1}, 1)),
                        "must be >= 1");
  EXPECT_ERROR_CONTAINS(ops::conv2d(x, ops::zeros({4, 3, 3, 3}, DType::Float64)), "must share dtype and device");
}

}  // namespace
}  // namespace trainrt
