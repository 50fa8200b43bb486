// See conv_direct.h. Output channel o reads input channel o / (O / G). Both
// kernels walk one (n, o) plane pair at a time, tap by tap (i, j). With stride
// 1 (the common case) the taps run over a zero-padded copy of the input plane
// (Padded) as long vectorised loops: simd::taps_axpy sums all taps of an
// output element in a register, simd::taps_dot shares each load of dy
// between the taps' dot products; other strides walk the
// output columns whose input column is inside the image (ConvGeom::valid_columns).
#include "conv_direct.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "channel_blocked.h"
#include "conv_direct_tiles.h"
#include "kernel_util.h"
#include "simd_loops.h"
#include "trainrt/kernel_math.h"

namespace trt_cpu {

namespace {

// Stride 1: the input plane copied into a zero border, (H + 2ph, W + 2pw), so
// that for tap (i, j) the output rows read one contiguous run of it. Output
// row oh, column ow sits at oh * Wp + ow of a plane as wide as the padded
// input; columns OW..Wp-1 of it are scratch. Each tap is then one axpy / dot
// over (OH - 1) * Wp + OW elements instead of OH short rows.
struct Padded {
  int64_t Hp, Wp, run;
  explicit Padded(const ConvGeom& g)
      : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw), run((g.OH - 1) * (g.W + 2 * g.pw) + g.OW) {}
  template <typename T> void fill(const ConvGeom& g, const T* plane, T* out) const {
    std::fill_n(out, Hp * Wp, T(0));
    for (int64_t h = 0; h < g.H; ++h) std::copy_n(plane + h * g.W, g.W, out + (h + g.ph) * Wp + g.pw);
  }
  int64_t tap(const ConvGeom& g, int64_t i, int64_t j) const { return i * g.dh * Wp + j * g.dw; }
  // Every tap's offset, in (i, j) order: what simd::taps_axpy / taps_dot take.
  std::vector<int64_t> offsets(const ConvGeom& g) const {
    std::vector<int64_t> off;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) off.push_back(tap(g, i, j));
    return off;
  }
};

// Sum of a plane in double, in 8 interleaved partial sums (element k to lane
// k mod 8, added pairwise at the end): one serial chain of double additions
// took half of the seed CNN's first-layer weight gradient.
template <typename T> double plane_sum(const T* v, int64_t n) {
  double lane[8] = {};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(v[k + l]);
  for (; k < n; ++k) lane[k % 8] += static_cast<double>(v[k]);
  for (int width = 4; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) lane[l] += lane[l + width];
  return lane[0];
}

}  // namespace

template <typename T>
void direct_conv_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y, bool relu, int threads) {
  const int64_t og = g.O / g.G, ohw = g.ohw(), hw = g.H * g.W;
  const bool unit_stride = g.sh == 1 && g.sw == 1;
  const Padded pad(g);
  const std::vector<int64_t> offsets = pad.offsets(g);
  const int taps = static_cast<int>(offsets.size());
  parallel_for(g.N * g.O, threads, [&](int64_t begin, int64_t end) {
    std::vector<T> xp, acc;  // padded input plane; output plane at the padded width
    if (unit_stride) {
      xp.resize(static_cast<size_t>(pad.Hp * pad.Wp));
      acc.resize(static_cast<size_t>(g.OH * pad.Wp));
    }
    const T* padded_plane = nullptr;  // the plane xp holds
    for (int64_t t = begin; t < end; ++t) {
      int64_t n = t / g.O, o = t % g.O;
      const T* plane = x + (n * g.C + o / og) * hw;  // (H, W)
      const T* kernel = w + o * g.kh * g.kw;         // (kH, kW)
      T* out = y + t * ohw;                          // (OH, OW)
      T bias = b ? b[o] : T(0);
      if (unit_stride) {
        if (plane != padded_plane) pad.fill(g, plane, xp.data());  // once per run of outputs sharing it
        padded_plane = plane;
        simd::taps_axpy(acc.data(), xp.data(), kernel, offsets.data(), taps, bias, pad.run);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* src = acc.data() + oh * pad.Wp;
          T* row = out + oh * g.OW;
          if (relu)
            for (int64_t ow = 0; ow < g.OW; ++ow) row[ow] = trainrt::math::relu(src[ow]);
          else
            std::copy_n(src, g.OW, row);
        }
      } else {
        std::fill_n(out, ohw, bias);
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            T wv = kernel[i * g.kw + j];
            int64_t off = j * g.dw - g.pw, ow0, ow1;
            g.valid_columns(j, ow0, ow1);
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              const T* src = plane + ih * g.W + off;
              T* row = out + oh * g.OW;
              for (int64_t ow = ow0; ow < ow1; ++ow) row[ow] += wv * src[ow * g.sw];
            }
          }
        if (relu)
          for (int64_t k = 0; k < ohw; ++k) out[k] = trainrt::math::relu(out[k]);
      }
    }
  }, 4);
}

template <typename T>
void direct_conv_backward_weights(const ConvGeom& g, const T* dy, const T* x, T* dw, T* db, int threads) {
  if constexpr (std::is_same_v<T, float>)
    if (single_channel_tiles_suit(g)) {
      // Tile b of image n: dy's 8 planes (n, 8b .. 8b+7) transposed.
      struct Planes {
        const float* dy;
        int64_t O, ohw;
      } planes{dy, g.O, g.ohw()};
      auto transposed = [](const void* c, int64_t n, int64_t b, float* scratch) -> const float* {
        auto* p = static_cast<const Planes*>(c);
        simd::planes_to_tile(p->dy + (n * p->O + b * kChannelBlock) * p->ohw, scratch, p->ohw);
        return scratch;
      };
      single_channel_weight_grad(g, GradTiles{transposed, &planes, kChannelBlock * g.ohw()}, x, dw, db, threads);
      return;
    }
  struct InMemory {
    const T* dy;
    int64_t O, ohw;
  } planes{dy, g.O, g.ohw()};
  auto in_memory = [](const void* c, int64_t n, int64_t o, T*) {
    auto* p = static_cast<const InMemory*>(c);
    return p->dy + (n * p->O + o) * p->ohw;
  };
  direct_conv_backward_weights<T>(g, GradPlanes<T>{in_memory, &planes, 0}, x, dw, db, threads);
}

template <typename T>
void direct_conv_backward_weights(const ConvGeom& g, const GradPlanes<T>& dy, const T* x, T* dw, T* db, int threads) {
  const int64_t og = g.O / g.G, ohw = g.ohw(), hw = g.H * g.W, taps = g.kh * g.kw;
  const bool unit_stride = g.sh == 1 && g.sw == 1;
  const Padded pad(g);
  const std::vector<int64_t> offsets = pad.offsets(g);
  parallel_for(
      g.O, threads,
      [&](int64_t begin, int64_t end) {
        // Per output channel of the chunk: the taps' and the bias's sums over the whole batch.
        std::vector<double> acc(static_cast<size_t>((end - begin) * taps), 0.0),
            bias(static_cast<size_t>(end - begin), 0.0);
        std::vector<T> xp, gp;  // padded input plane; dy at the padded width, zero in the scratch columns
        std::vector<T> sample_sums(static_cast<size_t>(taps));  // one sample's tap sums
        std::vector<T> scratch(static_cast<size_t>(dy.scratch_size));
        if (unit_stride) {
          xp.resize(static_cast<size_t>(pad.Hp * pad.Wp));
          gp.assign(static_cast<size_t>(g.OH * pad.Wp), T(0));
        }
        for (int64_t n = 0; n < g.N; ++n) {
          const T* padded_plane = nullptr;  // the plane xp holds
          for (int64_t o = begin; o < end; ++o) {
            const T* plane = x + (n * g.C + o / og) * hw;
            const T* grad = dy.plane(dy.context, n, o, scratch.data());
            double* tap_sums = acc.data() + (o - begin) * taps;
            if (db) bias[o - begin] += plane_sum(grad, ohw);
            if (unit_stride) {
              if (plane != padded_plane) pad.fill(g, plane, xp.data());
              padded_plane = plane;
              for (int64_t oh = 0; oh < g.OH; ++oh) std::copy_n(grad + oh * g.OW, g.OW, gp.data() + oh * pad.Wp);
              simd::taps_dot(gp.data(), xp.data(), offsets.data(), static_cast<int>(taps), pad.run, sample_sums.data());
              for (int64_t t = 0; t < taps; ++t)
                tap_sums[t] += static_cast<double>(sample_sums[static_cast<size_t>(t)]);
              continue;
            }
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                int64_t off = j * g.dw - g.pw, ow0, ow1;
                g.valid_columns(j, ow0, ow1);
                T sum = 0;  // this sample's contribution, added to the double total
                for (int64_t oh = 0; oh < g.OH; ++oh) {
                  int64_t ih = oh * g.sh - g.ph + i * g.dh;
                  if (ih < 0 || ih >= g.H) continue;
                  const T* src = plane + ih * g.W + off;
                  const T* row = grad + oh * g.OW;
                  for (int64_t ow = ow0; ow < ow1; ++ow) sum += row[ow] * src[ow * g.sw];
                }
                tap_sums[i * g.kw + j] += static_cast<double>(sum);
              }
          }
        }
        for (int64_t o = begin; o < end; ++o) {
          for (int64_t k = 0; k < taps; ++k) dw[o * taps + k] = static_cast<T>(acc[(o - begin) * taps + k]);
          if (db) db[o] = static_cast<T>(bias[o - begin]);
        }
      },
      1);
}

template void direct_conv_forward<float>(const ConvGeom&, const float*, const float*, const float*, float*, bool, int);
template void direct_conv_forward<double>(const ConvGeom&, const double*, const double*, const double*, double*, bool,
                                          int);
template void direct_conv_backward_weights<float>(const ConvGeom&, const float*, const float*, float*, float*, int);
template void direct_conv_backward_weights<double>(const ConvGeom&, const double*, const double*, double*, double*,
                                                   int);
template void direct_conv_backward_weights<float>(const ConvGeom&, const GradPlanes<float>&, const float*, float*,
                                                  float*, int);
template void direct_conv_backward_weights<double>(const ConvGeom&, const GradPlanes<double>&, const double*, double*,
                                                   double*, int);

}  // namespace trt_cpu
