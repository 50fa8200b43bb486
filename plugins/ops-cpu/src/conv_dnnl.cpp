// oneDNN 2.6 (v2 API) float32 convolution: forward, backward-data and
// backward-weights primitives chosen with format "any" so oneDNN picks its
// blocked layouts and direct AVX2/AVX-512 JIT kernels; user NCHW/OIHW buffers
// (or channel-blocked nChw8c activations, channel_blocked.h, which need no
// reorder where oneDNN picked that layout) are reordered in and out through buffers taken from the host's allocator for
// the call (counted by trainrt.memory(), reused by its cache, never kept per
// shape). A forward over more than kForwardChunk samples runs chunk by chunk,
// so its reorder buffers stay small: an evaluation batch of 1000 needed a
// second 100 MB output in oneDNN's layout. Each sample's result is the same
// either way. Primitives are cached per shape. Threads: oneDNN
// runs on OpenMP, set to the run's `threads` before each call (OpenBLAS and
// OpenMP never run at the same time, so the two pools do not oversubscribe).
// Deliberately not here: float64 (oneDNN has no f64 convolution), shape checks.
#include "conv_dnnl.h"
#include "host_memory.h"

#ifdef TRT_HAVE_DNNL
#include <omp.h>

#include "trainrt/plugin_abi.h"

#include <algorithm>
#include <array>
#include <dnnl.hpp>
#include <limits>
#include <map>
#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <vector>

namespace trt_cpu {
namespace {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

// Primitives take their scratchpad from the caller (scratchpad_mode::user), so it
// comes out of the host's allocator (counted by trainrt.memory()) and is reused.
primitive_attr user_scratchpad() {
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  return attr;
}

// One grow-only scratchpad per calling thread (a device queue's thread, as the
// primitive cache below), from the host's CPU allocator; freed at thread exit.
class Scratchpad {
 public:
  ~Scratchpad() { release(); }
  void* get(size_t bytes) {
    if (bytes <= bytes_) return ptr_;
    release();
    ptr_ = host_alloc(bytes);
    if (!ptr_) throw dnnl::error(dnnl_out_of_memory, "convolution scratchpad");
    bytes_ = bytes;
    return ptr_;
  }

 private:
  void release() {
    if (!ptr_) return;
    host_free(ptr_, bytes_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Memory for one call's reorders, from the host's allocator, returned when the
// call ends (CallBuffers below).
// A reorder buffer (host_memory.h) whose allocation failure is oneDNN's error,
// so guarded() falls back to the im2col path.
class ReorderBuffer {
 public:
  explicit ReorderBuffer(size_t bytes) : buffer_(bytes) {
    if (!buffer_.data()) throw dnnl::error(dnnl_out_of_memory, "convolution reorder buffer");
  }
  void* get() const { return buffer_.data(); }

 private:
  HostBuffer buffer_;
};

// The reorder buffers of the call in progress on this thread; guarded() frees
// them once the stream has finished.
std::vector<std::unique_ptr<ReorderBuffer>>& call_buffers() {
  thread_local std::vector<std::unique_ptr<ReorderBuffer>> buffers;
  return buffers;
}

memory call_memory(const memory::desc& md, const engine& eng) {
  call_buffers().push_back(std::make_unique<ReorderBuffer>(md.get_size()));
  return memory(md, eng, call_buffers().back()->get());
}

// args plus DNNL_ARG_SCRATCHPAD when the primitive wants one.
std::unordered_map<int, memory> with_scratchpad(const primitive_desc_base& pd, const engine& eng,
                                                std::unordered_map<int, memory> args) {
  thread_local Scratchpad pad;
  memory::desc want = pd.scratchpad_desc();
  if (size_t bytes = want.get_size(); bytes > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(want, eng, pad.get(bytes)));
  return args;
}

struct Prims {
  engine eng{engine::kind::cpu, 0};
  memory::desc x_md, w_md, y_md, b_md;  // user layouts
  convolution_forward::primitive_desc fwd_pd;
  convolution_backward_data::primitive_desc bwd_pd;
  convolution_backward_weights::primitive_desc bww_pd;
  convolution_forward fwd;
  convolution_backward_data bwd;
  convolution_backward_weights bww;
  // Built on first use: conv2d_relu (post-op relu) and conv2d_backward_weight_bias (with diff_bias).
  bool have_fwd_relu = false, have_bwwb = false;
  convolution_forward::primitive_desc fwd_relu_pd;
  convolution_backward_weights::primitive_desc bwwb_pd;
  convolution_forward fwd_relu;
  convolution_backward_weights bwwb;
  memory::dims x_dims, w_dims, y_dims, st, pad, dil;
};

// One cache per calling thread: each device queue (trainrt/stream.h) runs its
// convolutions on its own thread, and the scratch buffers live in the cache
// entry, so a shared cache would make the devices take turns.
Prims& prims_for(const DnnlConvShape& s) {
  thread_local std::map<std::array<int64_t, 16>, std::unique_ptr<Prims>> cache;
  std::array<int64_t, 16> key{s.N, s.C, s.H, s.W, s.O, s.kh, s.kw, s.OH, s.OW, s.sh, s.sw, s.ph, s.pw, s.dh, s.dw, s.G};
  auto& slot = cache[key];
  if (slot) return *slot;
  auto p = std::make_unique<Prims>();
  memory::dims x{s.N, s.C, s.H, s.W}, y{s.N, s.O, s.OH, s.OW}, b{s.O}, st{s.sh, s.sw}, pad{s.ph, s.pw},
      dil{s.dh - 1, s.dw - 1};
  memory::dims w = s.G == 1 ? memory::dims{s.O, s.C, s.kh, s.kw} : memory::dims{s.G, s.O / s.G, s.C / s.G, s.kh, s.kw};
  p->x_md = memory::desc(x, dt::f32, tag::nchw);
  p->y_md = memory::desc(y, dt::f32, tag::nchw);
  p->w_md = memory::desc(w, dt::f32, s.G == 1 ? tag::oihw : tag::goihw);
  p->b_md = memory::desc(b, dt::f32, tag::x);
  auto any_x = memory::desc(x, dt::f32, tag::any), any_y = memory::desc(y, dt::f32, tag::any),
       any_w = memory::desc(w, dt::f32, tag::any);
  p->x_dims = x;
  p->w_dims = w;
  p->y_dims = y;
  p->st = st;
  p->pad = pad;
  p->dil = dil;
  const auto algo = algorithm::convolution_direct;
  primitive_attr attr = user_scratchpad();
  p->fwd_pd = convolution_forward::primitive_desc(
      convolution_forward::desc(prop_kind::forward_training, algo, any_x, any_w, p->b_md, any_y, st, dil, pad, pad),
      attr, p->eng);
  p->bwd_pd = convolution_backward_data::primitive_desc(
      convolution_backward_data::desc(algo, any_x, any_w, any_y, st, dil, pad, pad), attr, p->eng, p->fwd_pd);
  p->bww_pd = convolution_backward_weights::primitive_desc(
      convolution_backward_weights::desc(algo, any_x, any_w, any_y, st, dil, pad, pad), attr, p->eng, p->fwd_pd);
  p->fwd = convolution_forward(p->fwd_pd);
  p->bwd = convolution_backward_data(p->bwd_pd);
  p->bww = convolution_backward_weights(p->bww_pd);
  slot = std::move(p);
  return *slot;
}

void ensure_fwd_relu(Prims& p) {
  if (p.have_fwd_relu) return;
  // relu as clip to [0, +inf): eltwise_relu computes alpha * x = -0.0 for negative x
  // (and keeps NaN), where trainrt::math::relu gives +0.0 (and 0 for NaN); clip's
  // max(x, 0) gives +0.0 for both, so y is bitwise relu(conv2d(x, w, b)).
  post_ops ops;
  ops.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, std::numeric_limits<float>::infinity());
  primitive_attr attr = user_scratchpad();
  attr.set_post_ops(ops);
  auto any_x = memory::desc(p.x_dims, dt::f32, tag::any), any_y = memory::desc(p.y_dims, dt::f32, tag::any),
       any_w = memory::desc(p.w_dims, dt::f32, tag::any);
  p.fwd_relu_pd = convolution_forward::primitive_desc(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, any_x, any_w, p.b_md,
                                any_y, p.st, p.dil, p.pad, p.pad),
      attr, p.eng);
  p.fwd_relu = convolution_forward(p.fwd_relu_pd);
  p.have_fwd_relu = true;
}

void ensure_bwwb(Prims& p) {
  if (p.have_bwwb) return;
  auto any_x = memory::desc(p.x_dims, dt::f32, tag::any), any_y = memory::desc(p.y_dims, dt::f32, tag::any),
       any_w = memory::desc(p.w_dims, dt::f32, tag::any);
  p.bwwb_pd = convolution_backward_weights::primitive_desc(
      convolution_backward_weights::desc(algorithm::convolution_direct, any_x, any_w, p.b_md, any_y, p.st, p.dil,
                                         p.pad, p.pad),
      user_scratchpad(), p.eng, p.fwd_pd);
  p.bwwb = convolution_backward_weights(p.bwwb_pd);
  p.have_bwwb = true;
}

// The layouts of the caller's activations (DnnlConvShape::x_blocked, y_blocked).
memory::desc user_x(const Prims& p, const DnnlConvShape& s) {
  return s.x_blocked ? memory::desc(p.x_dims, dt::f32, tag::nChw8c) : p.x_md;
}
memory::desc user_y(const Prims& p, const DnnlConvShape& s) {
  return s.y_blocked ? memory::desc(p.y_dims, dt::f32, tag::nChw8c) : p.y_md;
}

// The user's buffer when oneDNN wants its layout, else a call buffer in `want`'s layout filled by a reorder.
memory input(Prims& p, stream& st, const memory::desc& want, const memory::desc& user_md, const float* data) {
  memory user(user_md, p.eng, const_cast<float*>(data));
  if (want == user_md) return user;
  memory buf = call_memory(want, p.eng);
  reorder(user, buf).execute(st, user, buf);
  return buf;
}

// Runs `run` into the user's buffer or into a call buffer, then reorders back to the user layout.
template <typename Run>
void output(Prims& p, stream& st, const memory::desc& have, const memory::desc& user_md, float* data, Run&& run) {
  memory user(user_md, p.eng, data);
  if (have == user_md) {
    run(user);
    return;
  }
  memory buf = call_memory(have, p.eng);
  run(buf);
  reorder(buf, user).execute(st, buf, user);
}

template <typename Fn> bool guarded(const DnnlConvShape& s, int threads, Fn&& fn) {
  struct FreeCallBuffers {
    ~FreeCallBuffers() { call_buffers().clear(); }
  } free_at_end;
  try {
    omp_set_num_threads(threads < 1 ? 1 : threads);
    Prims& p = prims_for(s);
    stream st(p.eng);
    fn(p, st);
    st.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;  // unsupported shape: the caller takes the im2col path
  }
}

constexpr int64_t kForwardChunk = 128;

// A forward over s.N samples as forwards over at most kForwardChunk each.
template <typename Forward>
bool chunked_forward(const DnnlConvShape& s, const float* x, float* y, Forward&& forward) {
  if (s.N <= kForwardChunk) return forward(s, x, y);
  const int64_t x_sample = s.C * s.H * s.W, y_sample = s.O * s.OH * s.OW;
  for (int64_t n0 = 0; n0 < s.N; n0 += kForwardChunk) {
    DnnlConvShape chunk = s;
    chunk.N = std::min(kForwardChunk, s.N - n0);
    if (!forward(chunk, x + n0 * x_sample, y + n0 * y_sample)) return false;  // the first chunk fails or none does
  }
  return true;
}

}  // namespace


namespace {

// The forward with or without the ReLU post-op: the same reorders around another primitive.
bool conv_forward(const DnnlConvShape& shape, const float* x, const float* w, const float* b, float* y, int threads,
                  bool relu) {
  return chunked_forward(shape, x, y, [&](const DnnlConvShape& s, const float* xs, float* ys) {
    return guarded(s, threads, [&](Prims& p, stream& st) {
      if (relu) ensure_fwd_relu(p);
      const convolution_forward::primitive_desc& pd = relu ? p.fwd_relu_pd : p.fwd_pd;
      const convolution_forward& prim = relu ? p.fwd_relu : p.fwd;
      memory xm = input(p, st, pd.src_desc(), user_x(p, s), xs);
      memory wm = input(p, st, pd.weights_desc(), p.w_md, w);
      std::vector<float> zeros;
      if (!b) zeros.assign(static_cast<size_t>(s.O), 0.f);
      memory bm(p.b_md, p.eng, const_cast<float*>(b ? b : zeros.data()));
      output(p, st, pd.dst_desc(), user_y(p, s), ys, [&](memory& ym) {
        prim.execute(st, with_scratchpad(pd, p.eng, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, ym}}));
      });
    });
  });
}

}  // namespace

bool dnnl_conv_forward(const DnnlConvShape& s, const float* x, const float* w, const float* b, float* y, int threads) {
  return conv_forward(s, x, w, b, y, threads, /*relu=*/false);
}

bool dnnl_conv_forward_relu(const DnnlConvShape& s, const float* x, const float* w, const float* b, float* y,
                            int threads) {
  return conv_forward(s, x, w, b, y, threads, /*relu=*/true);
}

bool dnnl_conv_backward_data(const DnnlConvShape& s, const float* dy, const float* w, float* dx, int threads) {
  return guarded(s, threads, [&](Prims& p, stream& st) {
    memory dym = input(p, st, p.bwd_pd.diff_dst_desc(), user_y(p, s), dy);
    memory wm = input(p, st, p.bwd_pd.weights_desc(), p.w_md, w);
    output(p, st, p.bwd_pd.diff_src_desc(), user_x(p, s), dx, [&](memory& dxm) {
      p.bwd.execute(st, with_scratchpad(p.bwd_pd, p.eng, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dxm}}));
    });
  });
}

bool dnnl_conv_backward_weights(const DnnlConvShape& s, const float* dy, const float* x, float* dw, int threads) {
  return guarded(s, threads, [&](Prims& p, stream& st) {
    memory dym = input(p, st, p.bww_pd.diff_dst_desc(), user_y(p, s), dy);
    memory xm = input(p, st, p.bww_pd.src_desc(), user_x(p, s), x);
    output(p, st, p.bww_pd.diff_weights_desc(), p.w_md, dw, [&](memory& dwm) {
      p.bww.execute(st, with_scratchpad(p.bww_pd, p.eng, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_WEIGHTS, dwm}}));
    });
  });
}

bool dnnl_conv_backward_weights_bias(const DnnlConvShape& s, const float* dy, const float* x, float* dw, float* db,
                                     int threads) {
  return guarded(s, threads, [&](Prims& p, stream& st) {
    ensure_bwwb(p);
    memory dym = input(p, st, p.bwwb_pd.diff_dst_desc(), user_y(p, s), dy);
    memory xm = input(p, st, p.bwwb_pd.src_desc(), user_x(p, s), x);
    memory dbm(p.b_md, p.eng, db);  // a 1-D bias is plain in every layout oneDNN picks
    if (p.bwwb_pd.diff_bias_desc() != p.b_md) throw dnnl::error(dnnl_unimplemented, "diff_bias layout");
    output(p, st, p.bwwb_pd.diff_weights_desc(), p.w_md, dw, [&](memory& dwm) {
      p.bwwb.execute(st, with_scratchpad(p.bwwb_pd, p.eng, {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_WEIGHTS, dwm},
                          {DNNL_ARG_DIFF_BIAS, dbm}}));
    });
  });
}

}  // namespace trt_cpu

#else  // built without oneDNN: always fall back to im2col

namespace trt_cpu {
bool dnnl_conv_forward(const DnnlConvShape&, const float*, const float*, const float*, float*, int) { return false; }
bool dnnl_conv_backward_data(const DnnlConvShape&, const float*, const float*, float*, int) { return false; }
bool dnnl_conv_backward_weights(const DnnlConvShape&, const float*, const float*, float*, int) { return false; }
bool dnnl_conv_forward_relu(const DnnlConvShape&, const float*, const float*, const float*, float*, int) { return false; }
bool dnnl_conv_backward_weights_bias(const DnnlConvShape&, const float*, const float*, float*, float*, int) {
  return false;
}
}  // namespace trt_cpu

#endif
