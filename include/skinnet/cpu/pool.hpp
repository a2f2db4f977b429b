#pragma once
// Max and average pooling on the CPU, NHWC. The window geometry (incl. TF "same") is a ConvGeometry
// with out_c == in_c.
//
//   max   Padded positions never take part (so a window of negatives never returns the 0 of the
//         padding). The gradient goes to the FIRST maximum in (kh, kw) scan order, the convention of
//         the float64 reference.
//   avg   The mean over the window's positions that lie inside the input: padding is not counted
//         (TF "same"; PyTorch's count_include_pad=False), so border outputs are true means.
//
// Channels are innermost in NHWC, so every loop below runs its inner loop over C contiguous floats
// and vectorises. Forward passes split output rows across threads. The max-pool backward is a
// scatter (overlapping windows): threads own disjoint (image, channel block) pairs, so no two write
// the same element and each element sums its contributions in a fixed order. The avg-pool backward
// is a gather over the output pixels covering each input pixel, split by input rows.
#include <algorithm>
#include <cstdint>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"

namespace skinnet::cpu {

namespace pool_detail {

inline void check(const ConvGeometry& g, const Shape& x, const char* op, bool is_dy = false) {
  SKN_REQUIRE(g.out_c == g.in_c, ShapeError, op, ": pooling geometry needs out_c == in_c, got ", g.in_c, " -> ",
              g.out_c);
  // With padding smaller than the window every window holds at least one input pixel.
  SKN_REQUIRE(g.pad_top < g.k_h && g.pad_bottom < g.k_h && g.pad_left < g.k_w && g.pad_right < g.k_w,
              ValueError, op, ": padding (", g.pad_top, ",", g.pad_bottom, ",", g.pad_left, ",", g.pad_right,
              ") must be smaller than the ", g.k_h, "x", g.k_w, " window");
  const Shape want = is_dy ? g.out_shape() : g.in_shape();
  SKN_REQUIRE(x == want, ShapeError, op, ": ", is_dy ? "dy" : "x", " has shape ", x.str(), ", the geometry expects ",
              want.str());
}

struct Range {
  int64_t lo, hi;
};
// Window taps k in [0, K) with i0 + k inside [0, extent).
inline Range inside(int64_t i0, int64_t K, int64_t extent) {
  return {std::max<int64_t>(0, -i0), std::min<int64_t>(K, extent - i0)};
}
// Output positions o whose window [o*s - pad, o*s - pad + K) contains input position i.
inline Range covering(int64_t i, int64_t K, int64_t s, int64_t pad, int64_t O) {
  const int64_t t = i + pad;  // o*s <= t < o*s + K
  const int64_t lo = t - K + 1 <= 0 ? 0 : (t - K + 1 + s - 1) / s;
  const int64_t hi = std::min<int64_t>(O, t / s + 1);
  return {lo, std::max(lo, hi)};
}

}  // namespace pool_detail

inline Tensor<Cpu> max_pool2d_forward(const Tensor<Cpu>& x, const ConvGeometry& g) {
  using namespace pool_detail;
  check(g, x.shape(), "cpu::max_pool2d_forward");
  Tensor<Cpu> y(g.out_shape());
  const int64_t C = g.in_c;
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(0, g.n * g.out_h, [&](int64_t row) {
    const int64_t n = row / g.out_h, ih0 = (row % g.out_h) * g.stride_h - g.pad_top;
    const Range kh = inside(ih0, g.k_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const Range kw = inside(iw0, g.k_w, g.in_w);
      float* out = yp + (row * g.out_w + ow) * C;
      bool first = true;
      for (int64_t i = kh.lo; i < kh.hi; ++i)
        for (int64_t j = kw.lo; j < kw.hi; ++j) {
          const float* in = xp + ((n * g.in_h + ih0 + i) * g.in_w + iw0 + j) * C;
          if (first) {
            std::copy(in, in + C, out);
            first = false;
            continue;
          }
SKN_OMP_SIMD
          for (int64_t c = 0; c < C; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
    }
  });
  return y;
}

inline Tensor<Cpu> max_pool2d_backward(const Tensor<Cpu>& x, const Tensor<Cpu>& dy, const ConvGeometry& g) {
  using namespace pool_detail;
  check(g, x.shape(), "cpu::max_pool2d_backward");
  check(g, dy.shape(), "cpu::max_pool2d_backward", true);
  auto dx = Tensor<Cpu>::zeros(g.in_shape());
  const int64_t C = g.in_c;
  constexpr int64_t kBlock = 64;  // channels per task
  const int64_t blocks = (C + kBlock - 1) / kBlock;
  const float* xp = x.data();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_for(0, g.n * blocks, [&](int64_t task) {
    const int64_t n = task / blocks, c0 = (task % blocks) * kBlock, nc = std::min(kBlock, C - c0);
    float best[kBlock];
    int64_t arg[kBlock];  // flat offset of the winning input pixel, per channel
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const int64_t ih0 = oh * g.stride_h - g.pad_top;
      const Range kh = inside(ih0, g.k_h, g.in_h);
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const int64_t iw0 = ow * g.stride_w - g.pad_left;
        const Range kw = inside(iw0, g.k_w, g.in_w);
        bool first = true;
        for (int64_t i = kh.lo; i < kh.hi; ++i)
          for (int64_t j = kw.lo; j < kw.hi; ++j) {
            const int64_t off = ((n * g.in_h + ih0 + i) * g.in_w + iw0 + j) * C + c0;
            const float* in = xp + off;
            if (first) {
              for (int64_t c = 0; c < nc; ++c) best[c] = in[c], arg[c] = off;
              first = false;
              continue;
            }
SKN_OMP_SIMD
            for (int64_t c = 0; c < nc; ++c) {
              const bool win = in[c] > best[c];  // strictly greater: the first maximum keeps the gradient
              best[c] = win ? in[c] : best[c];
              arg[c] = win ? off : arg[c];
            }
          }
        const float* g_out = dyp + ((n * g.out_h + oh) * g.out_w + ow) * C + c0;
        for (int64_t c = 0; c < nc; ++c) dxp[arg[c] + c] += g_out[c];
      }
    }
  });
  return dx;
}

inline Tensor<Cpu> avg_pool2d_forward(const Tensor<Cpu>& x, const ConvGeometry& g) {
  using namespace pool_detail;
  check(g, x.shape(), "cpu::avg_pool2d_forward");
  Tensor<Cpu> y(g.out_shape());
  const int64_t C = g.in_c;
  const float* xp = x.data();
  float* yp = y.data();
  parallel_for(0, g.n * g.out_h, [&](int64_t row) {
    const int64_t n = row / g.out_h, ih0 = (row % g.out_h) * g.stride_h - g.pad_top;
    const Range kh = inside(ih0, g.k_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const Range kw = inside(iw0, g.k_w, g.in_w);
      float* out = yp + (row * g.out_w + ow) * C;
      std::fill(out, out + C, 0.f);
      for (int64_t i = kh.lo; i < kh.hi; ++i)
        for (int64_t j = kw.lo; j < kw.hi; ++j) {
          const float* in = xp + ((n * g.in_h + ih0 + i) * g.in_w + iw0 + j) * C;
SKN_OMP_SIMD
          for (int64_t c = 0; c < C; ++c) out[c] += in[c];
        }
      const float inv = 1.f / static_cast<float>((kh.hi - kh.lo) * (kw.hi - kw.lo));
SKN_OMP_SIMD
      for (int64_t c = 0; c < C; ++c) out[c] *= inv;
    }
  });
  return y;
}

inline Tensor<Cpu> avg_pool2d_backward(const Tensor<Cpu>& dy, const ConvGeometry& g) {
  using namespace pool_detail;
  check(g, dy.shape(), "cpu::avg_pool2d_backward", true);
  Tensor<Cpu> dx(g.in_shape());
  const int64_t C = g.in_c;
  const float* dyp = dy.data();
  float* dxp = dx.data();
  parallel_for(0, g.n * g.in_h, [&](int64_t row) {
    const int64_t n = row / g.in_h, ih = row % g.in_h;
    const Range oh = covering(ih, g.k_h, g.stride_h, g.pad_top, g.out_h);
    for (int64_t iw = 0; iw < g.in_w; ++iw) {
      const Range ow = covering(iw, g.k_w, g.stride_w, g.pad_left, g.out_w);
      float* out = dxp + (row * g.in_w + iw) * C;
      std::fill(out, out + C, 0.f);
      for (int64_t o = oh.lo; o < oh.hi; ++o) {
        const Range kh = inside(o * g.stride_h - g.pad_top, g.k_h, g.in_h);
        for (int64_t p = ow.lo; p < ow.hi; ++p) {
          const Range kw = inside(p * g.stride_w - g.pad_left, g.k_w, g.in_w);
          // Same float as the forward's 1/count, so forward and backward are exact adjoints.
          const float inv = 1.f / static_cast<float>((kh.hi - kh.lo) * (kw.hi - kw.lo));
          const float* gin = dyp + ((n * g.out_h + o) * g.out_w + p) * C;
SKN_OMP_SIMD
          for (int64_t c = 0; c < C; ++c) out[c] += gin[c] * inv;
        }
      }
    }
  });
  return dx;
}

}  // namespace skinnet::cpu
