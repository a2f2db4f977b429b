#pragma once
// Convolution forward as an "indirect" GEMM: no column buffer, and no packing of the activations.
//
// im2col + GEMM (cpu/im2col.hpp) copies every input pixel KH*KW times into a column matrix, and the
// GEMM then copies that matrix once more into its packed A panels, transposing it. For a convolution
// with few output channels (64 in ResNet's first stage) those two copies cost more than half the
// time of the multiply-adds themselves (measured: conv3x3 64->64 56x56 batch 16, 25% of the time in
// the A transpose and 12% in im2col), because each packed A panel is used for only N / NR = 2
// micro-kernel calls.
//
// Here the micro-kernel reads A straight from the NHWC input. A micro-panel of MR output pixels gets
// a table of MR pointers per kernel tap: pixel r's tap t is the Cin contiguous channels of one input
// pixel, or a shared vector of zeros when the tap lies in the padding (and for the rows past the end
// of the last panel). For channel ci of tap t the kernel broadcasts ptr[t][r][ci] for the MR rows and
// multiplies them into NR output channels of the packed weights, exactly the register tile of the
// GEMM kernels (MR x NR accumulators, one B row of NR floats loaded per step).
//
//   weights   packed once per call into panels of NR output channels: panel j holds, for every
//             k = tap * Cin + ci in order, the NR weights W[k][j*NR .. j*NR + NR) (zero past Cout).
//   K slices  a slice is a run of whole taps (or, when Cin is large, a run of the channels of one
//             tap) of about kSliceK multiply-adds, so that the MR x slice of A (in L1) is reused for
//             every panel of the N block; the tile's partial sums go to y between slices.
//   N blocks  as many panels as keep the block's packed weights within kWeightBlock (L2).
//   threads   contiguous groups of micro-panels (their count set by the shape), each pixel's outputs computed
//             by one thread in one fixed order: bit-identical for any thread count.
//
// Every output element sums k in increasing order (tap, then channel), one FMA chain per KC slice,
// and slices are added in order: the same order im2col + GEMM uses, though the two need not agree
// bit for bit (the slice boundaries differ).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/elementwise.hpp"
#include "skinnet/cpu/prefetch.hpp"

namespace skinnet::cpu {

namespace indirect_detail {

// One SIMD register of output channels, and the tile shape that fits the target's register file.
#if defined(__AVX512F__)
using V = __m512;
inline constexpr int kLanes = 16, kMR = 12;  // 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm
inline V vzero() { return _mm512_setzero_ps(); }
inline V vbroadcast(const float* p) { return _mm512_set1_ps(*p); }
inline V vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
#elif defined(__AVX2__) && defined(__FMA__)
using V = __m256;
inline constexpr int kLanes = 8, kMR = 6;  // 12 accumulators + 2 + 1 of 16 ymm
inline V vzero() { return _mm256_setzero_ps(); }
inline V vbroadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline V vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
#else
typedef float V __attribute__((vector_size(16)));  // portable: GCC/Clang vector extension
inline constexpr int kLanes = 4, kMR = 4;
inline V vzero() { return V{}; }
inline V vbroadcast(const float* p) { return V{} + *p; }
inline V vload(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void vstore(float* p, V v) { std::memcpy(p, &v, sizeof v); }
inline V vfma(V a, V b, V c) { return a * b + c; }
inline V vadd(V a, V b) { return a + b; }
#endif
inline constexpr int kNV = 2;  // vectors per tile row
inline constexpr int kNR = kNV * kLanes;

inline constexpr int64_t kSliceK = 768;                    // at most this many k per slice (A slice: MR x 3 KiB)
inline constexpr int64_t kWeightBlock = int64_t{1} << 20;  // bytes of packed weights per N block
inline constexpr int64_t kPanelsPerGroup = 8;              // micro-panels per parallel work item, at most

// One K slice: taps [t0, t1), channels [c0, c1) of each. ptrs[t * kMR + r] is pixel r's tap t;
// b is the panel's packed weights (row k = t * cin + ci, kNR floats each). The tile goes to
// y rows (row r at y + r * ldc, `rows` valid) and columns [0, cols): stored, or added when `add`.
inline void tile(const float* const* ptrs, int64_t t0, int64_t t1, int64_t c0, int64_t c1, int64_t cin,
                 const float* b, float* y, int64_t ldc, int rows, int cols, bool add) {
  V acc[kMR][kNV];
  for (int r = 0; r < kMR; ++r)
    for (int v = 0; v < kNV; ++v) acc[r][v] = vzero();
  for (int64_t t = t0; t < t1; ++t) {
    const float* p[kMR];
    for (int r = 0; r < kMR; ++r) p[r] = ptrs[t * kMR + r];
    const float* bt = b + t * cin * kNR;
    for (int64_t ci = c0; ci < c1; ++ci) {
      V bv[kNV];
      for (int v = 0; v < kNV; ++v) bv[v] = vload(bt + ci * kNR + v * kLanes);
      for (int r = 0; r < kMR; ++r) {
        const V a = vbroadcast(p[r] + ci);
        for (int v = 0; v < kNV; ++v) acc[r][v] = vfma(a, bv[v], acc[r][v]);
      }
    }
  }
  if (cols == kNR) {
    for (int r = 0; r < rows; ++r)
      for (int v = 0; v < kNV; ++v) {
        float* out = y + r * ldc + v * kLanes;
        vstore(out, add ? vadd(vload(out), acc[r][v]) : acc[r][v]);
      }
    return;
  }
  // The last panel of an output-channel count that is not a multiple of kNR: same sums, scalar
  // stores (a float add rounds like the vector add above).
  alignas(64) float buf[kNR];
  for (int r = 0; r < rows; ++r) {
    for (int v = 0; v < kNV; ++v) vstore(buf + v * kLanes, acc[r][v]);
    float* out = y + r * ldc;
    for (int j = 0; j < cols; ++j) out[j] = add ? out[j] + buf[j] : buf[j];
  }
}

// The weights W[k][co] (k = tap * Cin + ci, Cout columns) as panels of kNR columns, zero-padded.
// Panels are packed in parallel: done by one thread, packing (up to 9 MB for a 3x3 conv at 512
// channels, written after a zero fill of the whole buffer) left the other thread waiting.
inline Tensor<Cpu> pack_weights(const float* w, int64_t K, int64_t cout) {
  const int64_t panels = (cout + kNR - 1) / kNR;
  Tensor<Cpu> packed(Shape{panels * K * kNR});
  float* base = packed.data();
  parallel_for(0, panels, [&](int64_t j) {
    const int64_t c0 = j * kNR, width = std::min<int64_t>(kNR, cout - c0);
    float* dst = base + j * K * kNR;
    for (int64_t k = 0; k < K; ++k) {
      std::memcpy(dst + k * kNR, w + k * cout + c0, sizeof(float) * static_cast<size_t>(width));
      std::fill(dst + k * kNR + width, dst + (k + 1) * kNR, 0.f);
    }
  });
  return packed;
}

struct KSlice {
  int64_t t0, t1, c0, c1;
};

// Whole taps per slice while Cin is small, else the channels of one tap in near-equal runs.
inline std::vector<KSlice> k_slices(int64_t taps, int64_t cin) {
  std::vector<KSlice> s;
  if (cin <= kSliceK) {
    const int64_t count = (taps * cin + kSliceK - 1) / kSliceK;  // slices of near-equal tap counts
    for (int64_t i = 0; i < count; ++i) s.push_back({taps * i / count, taps * (i + 1) / count, 0, cin});
  } else {
    const int64_t parts = (cin + kSliceK - 1) / kSliceK;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t p = 0; p < parts; ++p) s.push_back({t, t + 1, cin * p / parts, cin * (p + 1) / parts});
  }
  return s;
}


// Writes output pixel m's KH*KW tap addresses to out[t * stride] (t = kh * KW + kw): the address of
// the tap's Cin input channels, or `zeros` in the padding.
inline void tap_pointers(const float* x, const ConvGeometry& g, int64_t m, const float* zeros, const float** out,
                         int64_t stride) {
  const int64_t plane = g.out_h * g.out_w;
  const int64_t n = m / plane, oh = (m % plane) / g.out_w, ow = m % g.out_w;
  for (int64_t kh = 0; kh < g.k_h; ++kh)
    for (int64_t kw = 0; kw < g.k_w; ++kw) {
      const int64_t ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
      const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
      out[(kh * g.k_w + kw) * stride] = inside ? x + ((n * g.in_h + ih) * g.in_w + iw) * g.in_c : zeros;
    }
}

// Tap t = kh * KW + kw's distance in floats from the window's top-left input pixel.
inline std::vector<int64_t> window_offsets(const ConvGeometry& g) {
  std::vector<int64_t> off(static_cast<size_t>(g.k_h * g.k_w));
  for (int64_t kh = 0; kh < g.k_h; ++kh)
    for (int64_t kw = 0; kw < g.k_w; ++kw) off[static_cast<size_t>(kh * g.k_w + kw)] = (kh * g.in_w + kw) * g.in_c;
  return off;
}

// The tap addresses of `count` consecutive output pixels m0, m0 + 1, ...: pixel i's tap t goes to
// out[t * stride + i], as tap_pointers would write them. `offsets` (window_offsets) holds each tap's
// distance in floats from the window's top-left input pixel. The pixels are taken a row segment at a
// time: in the segment's columns whose window lies wholly inside the input (most of them), tap t's
// addresses are one arithmetic sequence, written tap by tap with no bounds checks; the border
// columns go through tap_pointers. (tap_pointers for every pixel, a division per pixel and bounds
// checks per tap, took ~10% of a 3x3 convolution's forward time at 64 channels.)
inline void tap_pointer_run(const float* x, const ConvGeometry& g, const int64_t* offsets, int64_t m0, int64_t count,
                            const float* zeros, const float** out, int64_t stride) {
  const int64_t taps = g.k_h * g.k_w, plane = g.out_h * g.out_w;
  // Output columns [col_lo, col_hi) have iw >= 0 and iw + KW <= W (iw = ow * stride_w - pad_left).
  const int64_t col_lo = (g.pad_left + g.stride_w - 1) / g.stride_w;
  const int64_t room = g.in_w - g.k_w + g.pad_left;
  const int64_t col_hi = room < 0 ? 0 : std::min(g.out_w, room / g.stride_w + 1);
  const int64_t step = g.stride_w * g.in_c;  // from one output column's window to the next
  int64_t n = m0 / plane, oh = (m0 % plane) / g.out_w, ow = m0 % g.out_w;
  for (int64_t i = 0; i < count;) {
    const int64_t len = std::min(count - i, g.out_w - ow);  // the rest of this output row
    const int64_t ih = oh * g.stride_h - g.pad_top;
    const bool rows_inside = ih >= 0 && ih + g.k_h <= g.in_h;
    const int64_t a = rows_inside ? std::clamp(col_lo, ow, ow + len) : ow + len;  // interior: [a, b)
    const int64_t b = rows_inside ? std::clamp(col_hi, a, ow + len) : ow + len;
    for (int64_t c = ow; c < a; ++c) tap_pointers(x, g, m0 + i + (c - ow), zeros, out + i + (c - ow), stride);
    if (a < b) {
      const float* corner = x + ((n * g.in_h + ih) * g.in_w + a * g.stride_w - g.pad_left) * g.in_c;
      for (int64_t t = 0; t < taps; ++t) {
        const float** o = out + t * stride + i + (a - ow);
        for (int64_t c = 0; c < b - a; ++c) o[c] = corner + offsets[t] + c * step;
      }
    }
    for (int64_t c = b; c < ow + len; ++c) tap_pointers(x, g, m0 + i + (c - ow), zeros, out + i + (c - ow), stride);
    i += len;
    ow += len;
    if (ow == g.out_w) {
      ow = 0;
      if (++oh == g.out_h) oh = 0, ++n;
    }
  }
}

// ---- weight gradient ------------------------------------------------------------------------------
// dW[t * Cin + ci][co] = sum over output pixels m of x_t(m)[ci] * dy[m][co], x_t(m) being pixel m's tap
// t (zeros in the padding). A tile is R consecutive channels ci of one tap by kNR output channels:
// per pixel, R broadcasts from ONE contiguous run of x (the R channels) and kNR floats of dy. The sum
// over pixels is the long dimension, so the tile's accumulators cover a whole chunk of pixels before
// they are added to the partial dW.
template <int R>
inline void wgrad_tile(const float* const* px, int64_t ci0, const float* b, int64_t ldb, int64_t count,
                       float* part, int64_t ldp, int cols) {
  V acc[R][kNV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kNV; ++v) acc[r][v] = vzero();
  for (int64_t m = 0; m < count; ++m) {
    V bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = vload(b + m * ldb + v * kLanes);
    const float* a = px[m] + ci0;
    for (int r = 0; r < R; ++r) {
      const V av = vbroadcast(a + r);
      for (int v = 0; v < kNV; ++v) acc[r][v] = vfma(av, bv[v], acc[r][v]);
    }
  }
  if (cols == kNR) {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kNV; ++v) {
        float* out = part + r * ldp + v * kLanes;
        vstore(out, vadd(vload(out), acc[r][v]));
      }
    return;
  }
  alignas(64) float buf[kNR];  // a partial panel: the same sums, added one float at a time
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < kNV; ++v) vstore(buf + v * kLanes, acc[r][v]);
    float* out = part + r * ldp;
    for (int j = 0; j < cols; ++j) out[j] += buf[j];
  }
}

// Channels per weight-gradient tile, at most. The tile's time is set per pixel more than per
// multiply-add (its loads and addressing), so few tall tiles beat many short ones, and a tap's Cin
// channels are cut into near-equal runs: Cin = 64 as 13+13+13+13+12, not 12 x 5 + 4 (six tiles, the
// last a third full). With AVX-512 a tile of 14 rows holds 28 accumulators + 2 dy vectors + 1
// broadcast in the 32 zmm registers. Measured (Zen 5 VM, 2 threads, interleaved pairs): conv3x3
// 64->64 56^2 b16 weight gradient 1.10-1.13x faster; 28^2 128 and 14^2 256 unchanged; 7^2 512 2-3%
// slower (within this VM's noise, kept for one rule). A tile's sums are the same floats in the same
// order whatever its height.
#if defined(__AVX512F__)
inline constexpr int kWgradRows = 14;
#else
inline constexpr int kWgradRows = kMR;  // AVX2: 6 rows x 2 vectors + 3 of 16 ymm
#endif

// wgrad_tile with a compile-time R equal to the run-time `rows` (1..kWgradRows): the last channels of
// a tap must not read past the pixel's Cin floats.
template <int R = kWgradRows>
inline void wgrad_rows(int rows, const float* const* px, int64_t ci0, const float* b, int64_t ldb, int64_t count,
                       float* part, int64_t ldp, int cols) {
  if constexpr (R > 1)
    if (rows < R) return wgrad_rows<R - 1>(rows, px, ci0, b, ldb, count, part, ldp, cols);
  wgrad_tile<R>(px, ci0, b, ldb, count, part, ldp, cols);
}

// Pixels per pointer table, at most: a slice is cut into near-equal chunks (a slice of 261 pixels as
// 130 + 131, not 256 + 5, whose second chunk paid each tile's fixed costs for 5 pixels; 7^2 512->512
// b16 weight gradient 1.04x faster, others unchanged). 64 measured no faster than 256.
inline constexpr int64_t kWgradChunk = 256;
inline constexpr int64_t kWgradSlices = 16;  // fixed pixel slices, each with its own partial dW

}  // namespace indirect_detail

// Worth it when each tap's run of channels is long enough to amortise reloading the MR pointers
// (the 3-channel stems keep im2col, which is cheap for them). Pointwise convolutions use it for the
// forward pass only (cpu/conv2d.hpp says why).
inline bool conv_uses_indirect(const ConvGeometry& g) { return g.in_c >= 16; }

// y = conv(x, w) without bias, for any geometry (stride, padding, kernel size). y is fully written.
inline void conv2d_forward_indirect(const float* x, const float* w, const ConvGeometry& g, float* y) {
  using namespace indirect_detail;
  const int64_t cin = g.in_c, cout = g.out_c, taps = g.k_h * g.k_w, K = taps * cin;
  const int64_t M = g.out_pixels();
  const Tensor<Cpu> packed = pack_weights(w, K, cout);
  const std::vector<KSlice> slices = k_slices(taps, cin);
  const std::vector<float> zeros(static_cast<size_t>(cin), 0.f);
  const std::vector<int64_t> offsets = window_offsets(g);
  const int64_t panels = (cout + kNR - 1) / kNR;
  const int64_t block = std::clamp<int64_t>(kWeightBlock / (K * kNR * int64_t{sizeof(float)}), 1, panels);
  const int64_t micro = (M + kMR - 1) / kMR;
  // Near-equal groups of at most kPanelsPerGroup micro-panels, their count a multiple of 4 (a function
  // of the shape only), so that two or four threads get equal shares of a small output.
  const int64_t groups = std::min(micro, ((micro + kPanelsPerGroup - 1) / kPanelsPerGroup + 3) / 4 * 4);

  parallel_for(0, groups, [&](int64_t grp) {
    std::vector<const float*> ptrs(static_cast<size_t>(taps * kMR));
    for (int64_t j0 = 0; j0 < panels; j0 += block) {
      const int64_t j1 = std::min(panels, j0 + block);
      for (int64_t mp = micro * grp / groups; mp < micro * (grp + 1) / groups; ++mp) {
        const int64_t m0 = mp * kMR;
        const int rows = static_cast<int>(std::min<int64_t>(kMR, M - m0));
        if (rows < kMR) std::fill(ptrs.begin(), ptrs.end(), zeros.data());  // rows past the last pixel read zeros
        tap_pointer_run(x, g, offsets.data(), m0, rows, zeros.data(), ptrs.data(), kMR);
        // A 1x1 convolution reads every input pixel once, in pixel order: ask for the next
        // micro-panel's pixels while this one computes. (The hardware prefetchers alone left the
        // tile waiting on them: conv1x1 256->64 56^2 b16 forward 5.1-5.5 -> 4.3-4.6 ms, Zen 5 VM.
        // Larger kernels reuse most of their pixels from the previous panels; the same request for
        // their last tap measured no faster there.)
        if (taps == 1)
          for (int64_t m = m0 + kMR; m < std::min(M, m0 + 2 * kMR); ++m) {
            const float* next = zeros.data();
            tap_pointers(x, g, m, zeros.data(), &next, 1);
            prefetch_to_l2(next, cin);
          }
        for (size_t s = 0; s < slices.size(); ++s)
          for (int64_t j = j0; j < j1; ++j) {
            const int cols = static_cast<int>(std::min<int64_t>(kNR, cout - j * kNR));
            tile(ptrs.data(), slices[s].t0, slices[s].t1, slices[s].c0, slices[s].c1, cin,
                 packed.data() + j * K * kNR, y + m0 * cout + j * kNR, cout, rows, cols, s > 0);
          }
      }
    }
  });
}


// grad = dL/dW ([KH*KW*Cin][Cout], fully written) from x and dy, for any geometry. The pixels are cut
// into a fixed number of slices (a function of the shape only), each summed in pixel order into its
// own partial, and the partials are added in slice order: bit-identical for any thread count.
inline void conv2d_weight_grad_indirect(const float* x, const float* dy, const ConvGeometry& g, float* grad) {
  using namespace indirect_detail;
  const int64_t cin = g.in_c, cout = g.out_c, taps = g.k_h * g.k_w, K = taps * cin;
  const int64_t M = g.out_pixels();
  // One slice per 256 pixels, at most 16, and a multiple of 4 when there are several, so that two or
  // four threads get equal shares: 3 slices (7^2 b16) kept one of two threads idle a third of the time.
  int64_t slices = std::clamp<int64_t>(M / kWgradChunk, 1, kWgradSlices);
  if (slices > 1) slices = std::min<int64_t>(kWgradSlices, (slices + 3) / 4 * 4);
  const int64_t panels = (cout + kNR - 1) / kNR;
  const std::vector<float> zeros(static_cast<size_t>(cin), 0.f);
  const std::vector<int64_t> offsets = window_offsets(g);
  const int64_t size = K * cout;
  // Up to 16 partials of the whole gradient (28 MB for a 3x3 conv at 256 channels): from the block
  // cache, not a fresh zero-filled vector, and each slice clears its own partial, in parallel.
  Tensor<Cpu> partials(Shape{slices * size});

  parallel_for(0, slices, [&](int64_t s) {
    float* part = partials.data() + s * size;
    std::fill(part, part + size, 0.f);
    std::vector<const float*> px(static_cast<size_t>(taps * kWgradChunk));
    std::vector<float> edge(static_cast<size_t>(kWgradChunk * kNR));  // dy columns of a partial panel, padded
    const int64_t lo = M * s / slices, len = M * (s + 1) / slices - lo;
    const int64_t pieces = (len + kWgradChunk - 1) / kWgradChunk;
    for (int64_t p = 0; p < pieces; ++p) {
      const int64_t m0 = lo + len * p / pieces, count = lo + len * (p + 1) / pieces - m0;
      tap_pointer_run(x, g, offsets.data(), m0, count, zeros.data(), px.data(), kWgradChunk);
      for (int64_t j = 0; j < panels; ++j) {
        const int64_t co0 = j * kNR;
        const int cols = static_cast<int>(std::min<int64_t>(kNR, cout - co0));
        const float* b = dy + m0 * cout + co0;
        int64_t ldb = cout;
        if (cols < kNR) {  // copy the last columns, zero-padded, so the kernel never reads past dy
          for (int64_t i = 0; i < count; ++i) {
            std::memcpy(edge.data() + i * kNR, dy + (m0 + i) * cout + co0, sizeof(float) * static_cast<size_t>(cols));
            std::fill(edge.data() + i * kNR + cols, edge.data() + (i + 1) * kNR, 0.f);
          }
          b = edge.data();
          ldb = kNR;
        }
        const int64_t runs = (cin + kWgradRows - 1) / kWgradRows;
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t q = 0; q < runs; ++q) {
            const int64_t ci0 = cin * q / runs;
            const int rows = static_cast<int>(cin * (q + 1) / runs - ci0);
            wgrad_rows(rows, px.data() + t * kWgradChunk, ci0, b, ldb, count, part + (t * cin + ci0) * cout + co0,
                       cout, cols);
          }
      }
    }
  });
  detail::sum_in_order(partials.data(), slices, size, grad);
}

}  // namespace skinnet::cpu
