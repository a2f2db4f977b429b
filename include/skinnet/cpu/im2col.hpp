#pragma once
// im2col / col2im for NHWC convolutions on the CPU.
//
// With NHWC activations and HWIO weights, a convolution is one matrix product:
//     Y[rows x cout] = Col[rows x patch] * W[patch x cout]
// where rows = N*OH*OW output pixels and patch = KH*KW*Cin. Row r of Col holds, for output pixel r,
// the KH*KW input pixels its window covers, each as Cin contiguous floats, in (kh, kw, cin) order — the
// order of W's rows, so no weight reshuffling is ever needed. Taps that fall into the padding are zero.
//
// Both functions work on a contiguous range of output rows [row0, row0 + rows), so the caller can
// bound the size of the column buffer by processing the image batch in tiles.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/parallel.hpp"

namespace skinnet::cpu {

// col[(r - row0) * patch + (kh * KW + kw) * Cin + ci] = x[n, oh*sh - pt + kh, ow*sw - pl + kw, ci]
inline void im2col(const float* x, const ConvGeometry& g, int64_t row0, int64_t rows, float* col) {
  const int64_t patch = g.patch(), cin = g.in_c, plane = g.out_h * g.out_w;
  parallel_chunks(row0, row0 + rows, max_threads(), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / plane, oh = (r % plane) / g.out_w, ow = r % g.out_w;
      float* dst = col + (r - row0) * patch;
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      // Columns kw in [kw_lo, kw_hi) are inside the image; their pixels are adjacent in NHWC memory,
      // so each kernel row is at most one zero run, one memcpy and another zero run.
      const int64_t kw_lo = std::max<int64_t>(0, -iw0), kw_hi = std::min<int64_t>(g.k_w, g.in_w - iw0);
      for (int64_t kh = 0; kh < g.k_h; ++kh) {
        const int64_t ih = oh * g.stride_h - g.pad_top + kh;
        float* d = dst + kh * g.k_w * cin;
        if (ih < 0 || ih >= g.in_h || kw_lo >= kw_hi) {
          std::memset(d, 0, sizeof(float) * static_cast<size_t>(g.k_w * cin));
          continue;
        }
        if (kw_lo > 0) std::memset(d, 0, sizeof(float) * static_cast<size_t>(kw_lo * cin));
        std::memcpy(d + kw_lo * cin, x + ((n * g.in_h + ih) * g.in_w + iw0 + kw_lo) * cin,
                    sizeof(float) * static_cast<size_t>((kw_hi - kw_lo) * cin));
        if (kw_hi < g.k_w)
          std::memset(d + kw_hi * cin, 0, sizeof(float) * static_cast<size_t>((g.k_w - kw_hi) * cin));
      }
    }
  });
}

// The adjoint of im2col: dx[n, ih, iw, ci] += col[...] for every column entry that im2col read from
// that input element (padding entries are dropped). Overlapping windows make this a scatter-add; to
// stay race-free and deterministic the threads split the CHANNELS, and every element receives its
// contributions in row order whatever the thread count.
inline void col2im_add(const float* col, const ConvGeometry& g, int64_t row0, int64_t rows, float* dx) {
  const int64_t patch = g.patch(), cin = g.in_c, plane = g.out_h * g.out_w;
  constexpr int64_t kBlock = 16;  // one AVX-512 vector of channels at least per thread
  const int64_t blocks = (cin + kBlock - 1) / kBlock;
  const int parts = static_cast<int>(std::min<int64_t>(max_threads(), blocks));
  parallel_chunks(0, blocks, parts, [&](int64_t b_lo, int64_t b_hi) {
    const int64_t c_lo = b_lo * kBlock, c_hi = std::min(cin, b_hi * kBlock);
    for (int64_t r = row0; r < row0 + rows; ++r) {
      const int64_t n = r / plane, oh = (r % plane) / g.out_w, ow = r % g.out_w;
      const float* src = col + (r - row0) * patch;
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const int64_t kw_lo = std::max<int64_t>(0, -iw0), kw_hi = std::min<int64_t>(g.k_w, g.in_w - iw0);
      for (int64_t kh = 0; kh < g.k_h; ++kh) {
        const int64_t ih = oh * g.stride_h - g.pad_top + kh;
        if (ih < 0 || ih >= g.in_h) continue;
        for (int64_t kw = kw_lo; kw < kw_hi; ++kw) {
          float* d = dx + ((n * g.in_h + ih) * g.in_w + iw0 + kw) * cin;
          const float* s = src + (kh * g.k_w + kw) * cin;
SKN_OMP_SIMD
          for (int64_t c = c_lo; c < c_hi; ++c) d[c] += s[c];
        }
      }
    }
  });
}

}  // namespace skinnet::cpu
