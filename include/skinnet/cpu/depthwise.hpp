#pragma once
// Depthwise 2-D convolution on the CPU (channel multiplier 1), NHWC activations, weights [kh][kw][c].
//
// A depthwise conv does only KH*KW multiply-adds per output element, so it is limited by memory
// traffic, not arithmetic; casting it as a grouped GEMM (what many frameworks do) wastes most of the
// work on tiny matrices. Here it is a direct loop with the CHANNELS innermost: in NHWC the C channels
// of a pixel are contiguous, so one SIMD vector holds the same tap for 16 (AVX-512) channels, the
// weights of a tap are a contiguous vector too, and no data is ever rearranged.
//
//   forward       per output pixel: acc = bias; acc += x(tap) * w(tap) over the taps inside the image
//                 (tap ranges computed once per pixel, so the inner loop has no bounds checks), four
//                 channel vectors at a time so that independent FMA chains overlap (tap_sum). At
//                 stride 1 the interior of a row slides instead (kernel widths 3, 5, 7): 8
//                 neighbouring pixels share their input vectors, and a tap row's weights stay in
//                 registers (slide_row).
//   input grad    a GATHER per input pixel (the transposed conv): every input pixel sums dy * w over
//                 the output pixels whose window covers it, with the same tap_sum, and at stride 1 the
//                 same sliding rows walked right to left; threads write disjoint rows, so there are
//                 no atomics and no races.
//   weight grad   per output row and kernel row, all KW taps at once along the row's interior: each
//                 dy vector is loaded once for KW FMAs into KW x NB register accumulators
//                 (grad_row_taps; at stride 1 the input columns pass through a ring of KW registers,
//                 grad_row_slide); the row's borders and the channels past the last full vector take
//                 a one-tap loop. Rows are cut into a fixed number of slices (not the thread count),
//                 each with its own partial dW, combined in slice order: bit-identical results for
//                 any thread count.
// OpenMP splits batch x rows, and every pass asks for the rows its next row reads first while the
// current row computes (cpu/prefetch.hpp). Same backend contract as cpu/conv2d.hpp: the
// backward_params function ADDS into dw (and dbias).
//
// Outputs are stored normally, not streamed past the caches: streaming y and dx made the isolated ops
// up to 1.7x faster on a Xeon VM but not a training step, where the next layer reads them at once
// (docs/kernels.md, "Streaming stores").
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/conv2d.hpp"  // detail::add_column_sums (bias gradient)
#include "skinnet/cpu/elementwise.hpp"
#include "skinnet/cpu/prefetch.hpp"

namespace skinnet::cpu {

namespace dw_detail {

// One SIMD register of channels, via GCC/Clang vector extensions (the compiler emits AVX-512, AVX2 or
// SSE arithmetic for the target it is given).
#if defined(__AVX512F__)
inline constexpr int64_t kLanes = 16;
#elif defined(__AVX__)
inline constexpr int64_t kLanes = 8;
#else
inline constexpr int64_t kLanes = 4;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);  // unaligned load: channel offsets need not be multiples of 16
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

// Floor and ceiling of a / b for b > 0 and any sign of a.
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Taps k in [0, K) with i0 + k inside [0, extent): k in [lo, hi).
struct TapRange {
  int64_t lo, hi;
};
inline TapRange taps_inside(int64_t i0, int64_t K, int64_t extent) {
  return {std::max<int64_t>(0, -i0), std::min<int64_t>(K, extent - i0)};
}

// Output positions o in [0, O) whose tap k lands inside the input: 0 <= o*s - pad + k < extent.
inline TapRange outputs_inside(int64_t k, int64_t s, int64_t pad, int64_t extent, int64_t O) {
  const int64_t lo = std::max<int64_t>(0, ceil_div(pad - k, s));
  const int64_t hi = std::min<int64_t>(O, floor_div(extent - 1 + pad - k, s) + 1);
  return {lo, std::max(lo, hi)};
}

// For the gather of the input gradient: taps k in [0, K) such that input position i is tap k of some
// output o in [0, O), i.e. i + pad - k = o * s. Returns the first such k (k then steps by s) and the
// end of the range; empty when first >= end.
inline TapRange taps_reaching(int64_t i, int64_t K, int64_t s, int64_t pad, int64_t O) {
  const int64_t t = i + pad;  // = o * s + k
  int64_t lo = std::max<int64_t>(0, t - (O - 1) * s);
  lo += (t - lo) % s;  // align to k ≡ t (mod s); t - lo >= 0 whenever the range is not empty
  const int64_t hi = std::min<int64_t>(K, t + 1);
  return {lo, hi};
}

// The taps of one output element, as a 2-D walk over two arrays at once (the activation and the
// weights): `a` and `b` point at channel 0 of the first tap; the next tap row is a + a_row (b + b_row),
// the next tap column a + a_col (b + b_col), in elements, any sign.
struct TapWalk {
  const float* a;
  int64_t a_row, a_col;
  const float* b;
  int64_t b_row, b_col;
  int64_t rows, cols;
};

// out[c, c + NB*kLanes) = init + sum over the taps of a * b, for NB consecutive channel vectors.
// NB independent accumulators let the FMAs overlap: one accumulator would be a chain of dependent
// FMAs, each waiting for the previous one's latency.
template <int NB>
inline void tap_sum_vectors(const TapWalk& t, int64_t c, const float* init, float* out) {
  Vec acc[NB];
  for (int v = 0; v < NB; ++v) acc[v] = init ? load(init + c + v * kLanes) : Vec{};
  for (int64_t i = 0; i < t.rows; ++i) {
    const float* ar = t.a + i * t.a_row + c;
    const float* br = t.b + i * t.b_row + c;
    for (int64_t j = 0; j < t.cols; ++j)
      for (int v = 0; v < NB; ++v) acc[v] += load(ar + j * t.a_col + v * kLanes) * load(br + j * t.b_col + v * kLanes);
  }
  for (int v = 0; v < NB; ++v) store(out + c + v * kLanes, acc[v]);
}

// Channels [c, C) one at a time: the tail past the last full vector.
inline void tap_sum_scalar(const TapWalk& t, int64_t c, int64_t C, const float* init, float* out) {
  for (; c < C; ++c) {
    float acc = init ? init[c] : 0.f;
    for (int64_t i = 0; i < t.rows; ++i)
      for (int64_t j = 0; j < t.cols; ++j) acc += t.a[i * t.a_row + j * t.a_col + c] * t.b[i * t.b_row + j * t.b_col + c];
    out[c] = acc;
  }
}

// All C channels: four vectors at a time, then two, then one, then a scalar tail.
inline void tap_sum(const TapWalk& t, int64_t C, const float* init, float* out) {
  int64_t c = 0;
  for (; c + 4 * kLanes <= C; c += 4 * kLanes) tap_sum_vectors<4>(t, c, init, out);
  for (; c + 2 * kLanes <= C; c += 2 * kLanes) tap_sum_vectors<2>(t, c, init, out);
  for (; c + kLanes <= C; c += kLanes) tap_sum_vectors<1>(t, c, init, out);
  tap_sum_scalar(t, c, C, init, out);
}

// P pixels whose walks have the same taps and differ only in where `a` starts (pixel p at
// t.a + p * a_pix), so each weight vector is loaded once for P pixels: fewer loads per FMA, and P x NB
// independent accumulators. Every output element is summed in the same tap order as tap_sum, so the
// result is bit-identical to computing the pixels one by one.
template <int P, int NB>
inline void tap_sum_block(const TapWalk& t, int64_t a_pix, int64_t c, const float* init, float* out,
                          int64_t out_pix) {
  Vec acc[P][NB];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < NB; ++v) acc[p][v] = init ? load(init + c + v * kLanes) : Vec{};
  for (int64_t i = 0; i < t.rows; ++i)
    for (int64_t j = 0; j < t.cols; ++j) {
      const float* ap = t.a + i * t.a_row + j * t.a_col + c;
      const float* bp = t.b + i * t.b_row + j * t.b_col + c;
      Vec wv[NB];
      for (int v = 0; v < NB; ++v) wv[v] = load(bp + v * kLanes);
      for (int p = 0; p < P; ++p)
        for (int v = 0; v < NB; ++v) acc[p][v] += load(ap + p * a_pix + v * kLanes) * wv[v];
    }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < NB; ++v) store(out + p * out_pix + c + v * kLanes, acc[p][v]);
}

// 4 pixels x 2 channel vectors = 8 accumulators. Measured on Zen 5 (single thread, in cache): 2 pixels
// were ~25% slower, 6 or 8 no faster.
inline constexpr int kPixelBlock = 4;

inline void tap_sum_pixels(const TapWalk& t, int64_t a_pix, int64_t C, const float* init, float* out,
                           int64_t out_pix) {
  constexpr int P = kPixelBlock;
  int64_t c = 0;
  for (; c + 2 * kLanes <= C; c += 2 * kLanes) tap_sum_block<P, 2>(t, a_pix, c, init, out, out_pix);
  for (; c + kLanes <= C; c += kLanes) tap_sum_block<P, 1>(t, a_pix, c, init, out, out_pix);
  for (int p = 0; p < P && c < C; ++p) {
    TapWalk tp = t;
    tp.a += p * a_pix;
    tap_sum_scalar(tp, c, C, init, out + p * out_pix);
  }
}

// Memory the caller's next row reads first ([p, p + floats), nullptr: none): tap_sum_row requests it
// in proportional pieces as it goes along its row, like slide_row (cpu/prefetch.hpp says why).
struct Ahead {
  const float* p = nullptr;
  int64_t floats = 0;
};

// One row of `count` output pixels (out_row + q*C); walk(q) describes pixel q's taps. Pixels q,
// q + group, q + 2*group, ... are computed together when their walks have the same taps and evenly
// spaced `a` (interior pixels; `group` is the stride for the input-gradient gather, whose taps
// alternate with the pixel's parity, and 1 for the forward pass). Other pixels go one by one.
template <class WalkFn>
inline void tap_sum_row(int64_t count, int64_t group, const WalkFn& walk, int64_t C, const float* init,
                        float* out_row, Ahead ahead = {}) {
  constexpr int P = kPixelBlock;
  auto same_taps = [](const TapWalk& x, const TapWalk& y) {
    return x.rows == y.rows && x.cols == y.cols && x.b == y.b && x.a_row == y.a_row && x.a_col == y.a_col &&
           x.b_row == y.b_row && x.b_col == y.b_col;
  };
  for (int64_t base = 0; base < count; base += P * group) {
    if (ahead.p) {
      const int64_t f0 = ahead.floats * base / count;
      const int64_t f1 = ahead.floats * std::min(count, base + P * group) / count;
      prefetch_to_l2(ahead.p + f0, f1 - f0);
    }
    for (int64_t r = 0; r < group && base + r < count; ++r) {
      const int64_t q0 = base + r;
      const TapWalk t0 = walk(q0);
      bool blocked = q0 + (P - 1) * group < count && t0.rows > 0 && t0.cols > 0;
      int64_t a_pix = 0;
      if (blocked) {
        a_pix = walk(q0 + group).a - t0.a;
        for (int p = 1; p < P && blocked; ++p) {
          const TapWalk tp = walk(q0 + p * group);
          blocked = same_taps(tp, t0) && tp.a == t0.a + p * a_pix;
        }
      }
      if (blocked) {
        tap_sum_pixels(t0, a_pix, C, init, out_row + q0 * C, group * C);
      } else {
        for (int p = 0; p < P && q0 + p * group < count; ++p)
          tap_sum(walk(q0 + p * group), C, init, out_row + (q0 + p * group) * C);
      }
    }
  }
}

// Stride 1 along the width, pixels whose K tap columns all lie inside the image: neighbouring pixels
// share K - 1 of their columns, so a block of P pixels loads each of its P + K - 1 columns once per
// tap row and uses it for up to K multiply-adds, with the tap row's K weight vectors held in
// registers (~0.4 loads per FMA, against ~1.25 for tap_sum_block, whose every FMA loads its input).
// Dir says where tap j of pixel p lies: column p + j (Dir = +1, the forward pass) or p - j (Dir = -1,
// the input-gradient gather, which walks dy right to left). Columns are visited in the order that
// gives every pixel its taps in ascending j, row by row after `init`: the order of tap_sum, so border
// and interior pixels round alike and the result does not depend on the blocking.
template <int K, int P, int NB, int Dir>
inline void slide_block(const TapWalk& t, int64_t C, int64_t c, const float* init, float* out) {
  Vec acc[P][NB];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < NB; ++v) acc[p][v] = init ? load(init + c + v * kLanes) : Vec{};
  // Addresses advance from running pointers: indexing with q * C kept P + K - 1 distinct offsets
  // live, more than the integer registers, and GCC reloaded them from the stack on every block
  // (perf annotate on Zen 5).
  const float* ar = t.a + c;
  const float* br = t.b + c;
  for (int64_t i = 0; i < t.rows; ++i, ar += t.a_row, br += t.b_row) {
    Vec wv[K][NB];
    for (int j = 0; j < K; ++j)
      for (int v = 0; v < NB; ++v) wv[j][v] = load(br + j * t.b_col + v * kLanes);
    // Column step s = 0 .. P + K - 2 visits column q = s for Dir = +1 (tap j feeds pixel q - j) and
    // q = P - 1 - s for Dir = -1 (right to left; tap j feeds pixel q + j): either way each pixel meets
    // its taps in ascending j.
    const float* xp = Dir > 0 ? ar : ar + (P - 1) * C;
#pragma GCC unroll 16
    for (int s = 0; s < P + K - 1; ++s, xp += Dir * C) {
      Vec xv[NB];
      for (int v = 0; v < NB; ++v) xv[v] = load(xp + v * kLanes);
#pragma GCC unroll 8
      for (int j = 0; j < K; ++j) {
        const int p = Dir > 0 ? s - j : P - 1 - s + j;
        if (p >= 0 && p < P)
          for (int v = 0; v < NB; ++v) acc[p][v] += xv[v] * wv[j][v];
      }
    }
  }
  float* op = out + c;
  for (int p = 0; p < P; ++p, op += C)
    for (int v = 0; v < NB; ++v) store(op + v * kLanes, acc[p][v]);
}

// `count` pixels of one row whose walks all have K full tap columns; t is the walk of the first, and
// pixel o's walk is t shifted by o * C. `ahead` (or nullptr) is pixel 0 of the row the NEXT row of the
// caller will read for the first time: each block asks for its own columns of that row, so the row
// streams in from memory while this one computes, a few dozen lines at a time (one request per line
// of a whole row at once stalls the core until most of them have arrived).
template <int K, int Dir>
inline void slide_row(const TapWalk& t, int64_t count, int64_t C, const float* init, float* out,
                      const float* ahead) {
  constexpr int P = 8;
  const int64_t vec_end = C / kLanes * kLanes;
  auto shifted = [&](int64_t o) {
    TapWalk tp = t;
    tp.a += o * C;
    return tp;
  };
  int64_t o = 0;
  for (; o + P <= count; o += P) {
    if (ahead) prefetch_to_l2(ahead + o * C, P * C);
    const TapWalk tb = shifted(o);
    int64_t c = 0;
    for (; c + 2 * kLanes <= vec_end; c += 2 * kLanes) slide_block<K, P, 2, Dir>(tb, C, c, init, out + o * C);
    for (; c < vec_end; c += kLanes) slide_block<K, P, 1, Dir>(tb, C, c, init, out + o * C);
    for (int p = 0; p < P && vec_end < C; ++p) tap_sum_scalar(shifted(o + p), vec_end, C, init, out + (o + p) * C);
  }
  if (ahead) prefetch_to_l2(ahead + o * C, (count - o) * C);
  // The row's last 4..7 pixels as a block of 4 when C is whole vectors (a 112-wide row slides 110
  // pixels: 13 blocks of 8, then 6 that went pixel by pixel through tap_sum at ~1.25 loads per FMA).
  if (constexpr int Q = P / 2; o + Q <= count && vec_end == C) {
    const TapWalk tb = shifted(o);
    int64_t c = 0;
    for (; c + 2 * kLanes <= vec_end; c += 2 * kLanes) slide_block<K, Q, 2, Dir>(tb, C, c, init, out + o * C);
    for (; c < vec_end; c += kLanes) slide_block<K, Q, 1, Dir>(tb, C, c, init, out + o * C);
    o += Q;
  }
  for (; o < count; ++o) tap_sum(shifted(o), C, init, out + o * C);
}

// slide_row for the kernel widths it is compiled for (3, 5, 7); false for others, which the caller
// then computes pixel by pixel.
template <int Dir>
inline bool slide_row_any(int64_t K, const TapWalk& t, int64_t count, int64_t C, const float* init, float* out,
                          const float* ahead) {
  switch (K) {
    case 3: slide_row<3, Dir>(t, count, C, init, out, ahead); return true;
    case 5: slide_row<5, Dir>(t, count, C, init, out, ahead); return true;
    case 7: slide_row<7, Dir>(t, count, C, init, out, ahead); return true;
    default: return false;
  }
}

// Weight gradient of one kernel row along one output row: d[j*C + c] += sum over output columns o of
// x[o*sw - pl + j, c] * dy[o, c], where d points at the kernel row's first tap.
//
// grad_row_one_tap: one tap j, output columns [o_lo, o_hi), channels [c_lo, c_hi); works everywhere.
inline void grad_row_one_tap(const float* xrow, const float* dyrow, int64_t j, int64_t o_lo, int64_t o_hi,
                             int64_t sw, int64_t pl, int64_t C, int64_t c_lo, int64_t c_hi, float* d) {
  if (o_hi <= o_lo) return;
  auto x_at = [&](int64_t o) { return xrow + (o * sw - pl + j) * C; };
  float* dj = d + j * C;
  int64_t c = c_lo;
  for (; c + kLanes <= c_hi; c += kLanes) {
    Vec a0{}, a1{};  // two accumulators: the sum along the row is otherwise one dependency chain
    int64_t o = o_lo;
    for (; o + 2 <= o_hi; o += 2) {
      a0 += load(x_at(o) + c) * load(dyrow + o * C + c);
      a1 += load(x_at(o + 1) + c) * load(dyrow + (o + 1) * C + c);
    }
    if (o < o_hi) a0 += load(x_at(o) + c) * load(dyrow + o * C + c);
    store(dj + c, load(dj + c) + (a0 + a1));
  }
  for (; c < c_hi; ++c) {
    float acc = 0.f;
    for (int64_t o = o_lo; o < o_hi; ++o) acc += x_at(o)[c] * dyrow[o * C + c];
    dj[c] += acc;
  }
}

// Rows the next output row reads for the first time (nullptr: none), requested piece by piece while
// this row computes, as in slide_row: `x` has the layout of xrow, `dy` of dyrow.
struct RowsAhead {
  const float* x = nullptr;
  const float* dy = nullptr;
};

// All K taps of the kernel row at once, over output columns [o_lo, o_hi) where every tap is inside,
// for NB channel vectors at c: each dy vector is loaded once and used K times, and the K*NB
// accumulators are independent chains.
template <int K, int NB>
inline void grad_row_taps(const float* xrow, const float* dyrow, int64_t o_lo, int64_t o_hi, int64_t sw, int64_t pl,
                          int64_t C, int64_t c, float* d, RowsAhead ahead) {
  Vec acc[K][NB] = {};
  for (int64_t o = o_lo; o < o_hi; ++o) {
    const float* xo = xrow + (o * sw - pl) * C + c;  // tap 0; tap j is j*C further
    if (ahead.dy) prefetch_to_l2(ahead.dy + o * C + c, NB * kLanes);
    if (ahead.x)  // columns o*sw - pl + s; s < K keeps them inside the row (o's window is)
      for (int64_t s = 0; s < sw && s < K; ++s) prefetch_to_l2(ahead.x + (o * sw - pl + s) * C + c, NB * kLanes);
    Vec gv[NB];
    for (int v = 0; v < NB; ++v) gv[v] = load(dyrow + o * C + c + v * kLanes);
    for (int j = 0; j < K; ++j)
      for (int v = 0; v < NB; ++v) acc[j][v] += load(xo + j * C + v * kLanes) * gv[v];
  }
  for (int j = 0; j < K; ++j)
    for (int v = 0; v < NB; ++v) {
      float* p = d + j * C + c + v * kLanes;
      store(p, load(p) + acc[j][v]);
    }
}

// grad_row_taps at stride 1, with a window instead of reloads: output column o uses input columns
// o .. o + K - 1 (relative to -pl), of which o + 1 .. o + K - 1 serve the next column too, so each
// step loads one new x vector (and dy[o]) per channel vector for K FMAs: ~0.7 loads per FMA for K = 3
// instead of ~1.3. The window is a ring of K registers; unrolling the walk by K makes every ring
// index a constant, so the ring stays in registers. The sums run over o in the same order as in
// grad_row_taps: the same floats.
template <int K, int NB>
inline void grad_row_slide(const float* xrow, const float* dyrow, int64_t o_lo, int64_t o_hi, int64_t pl, int64_t C,
                           int64_t c, float* d, RowsAhead ahead) {
  Vec acc[K][NB] = {};
  Vec ring[K][NB];  // ring[(o - o_lo + j) % K] = x[o + j]
  const float* xp = xrow + (o_lo - pl) * C + c;
  for (int j = 0; j + 1 < K; ++j)
    for (int v = 0; v < NB; ++v) ring[j][v] = load(xp + j * C + v * kLanes);
  xp += (K - 1) * C;  // the column the next step loads
  const float* gp = dyrow + o_lo * C + c;
  // Step u of a group of K: column o = o_lo + (multiple of K) + u, loaded into ring slot (u + K - 1) % K.
  // Plain loops with constant bounds (fully unrolled), not lambdas: GCC then keeps acc and ring in
  // registers (with a lambda per step it kept them on the stack, 2x slower).
  int64_t o = o_lo;
  for (; o < o_hi; o += K) {
#pragma GCC unroll 8
    for (int u = 0; u < K; ++u) {
      if (o + u >= o_hi) break;
      if (ahead.dy) prefetch_to_l2(ahead.dy + (o + u) * C + c, NB * kLanes);
      if (ahead.x) prefetch_to_l2(ahead.x + (o + u - pl) * C + c, NB * kLanes);
      Vec gv[NB];
      for (int v = 0; v < NB; ++v) {
        ring[(u + K - 1) % K][v] = load(xp + v * kLanes);
        gv[v] = load(gp + v * kLanes);
      }
      for (int j = 0; j < K; ++j)
        for (int v = 0; v < NB; ++v) acc[j][v] += ring[(u + j) % K][v] * gv[v];
      xp += C;
      gp += C;
    }
  }
  for (int j = 0; j < K; ++j)
    for (int v = 0; v < NB; ++v) {
      float* p = d + j * C + c + v * kLanes;
      store(p, load(p) + acc[j][v]);
    }
}

// The whole 3x3 kernel at once along one output row (stride 1, the window's three input rows all
// inside the image), one channel vector at c: each dy vector is loaded once for 9 FMAs, and each of
// the three input rows keeps a ring of 3 columns as in grad_row_slide. Row by row (grad_row_slide
// per kernel row), every dy vector came from L2 three times and each step loaded 2 vectors per 3
// FMAs; here 4 per 9. `x0` is the first input row at column 0, rows are `x_row` floats apart, and d
// is the whole kernel's gradient [3][3][C]. The sums run over o in the same order as grad_row_slide's,
// each tap's sum added to d once: the same floats.
inline void grad_rows3_slide(const float* x0, int64_t x_row, const float* dyrow, int64_t o_lo, int64_t o_hi,
                             int64_t pl, int64_t C, int64_t c, float* d, RowsAhead ahead) {
  constexpr int K = 3;
  Vec acc[K][K] = {};  // [kernel row][kernel column]
  Vec ring[K][K];      // ring[i][(o - o_lo + j) % K] = input row i, column o + j
  const float* xp[K];
  for (int i = 0; i < K; ++i) {
    xp[i] = x0 + i * x_row + (o_lo - pl) * C + c;
    for (int j = 0; j + 1 < K; ++j) ring[i][j] = load(xp[i] + j * C);
    xp[i] += (K - 1) * C;
  }
  const float* gp = dyrow + o_lo * C + c;
  for (int64_t o = o_lo; o < o_hi; o += K) {
#pragma GCC unroll 8
    for (int u = 0; u < K; ++u) {
      if (o + u >= o_hi) break;
      if (ahead.dy) prefetch_to_l2(ahead.dy + (o + u) * C + c, kLanes);
      if (ahead.x) prefetch_to_l2(ahead.x + (o + u - pl) * C + c, kLanes);
      const Vec gv = load(gp);
      for (int i = 0; i < K; ++i) ring[i][(u + K - 1) % K] = load(xp[i]);
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) acc[i][j] += ring[i][(u + j) % K] * gv;
      for (int i = 0; i < K; ++i) xp[i] += C;
      gp += C;
    }
  }
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      float* p = d + (i * K + j) * C + c;
      store(p, load(p) + acc[i][j]);
    }
}

template <int K>
inline void grad_row_taps_all(const float* xrow, const float* dyrow, int64_t o_lo, int64_t o_hi, int64_t sw,
                              int64_t pl, int64_t C, int64_t vec_end, float* d, RowsAhead a) {
  int64_t c = 0;
  if (sw == 1 && K > 1) {  // registers: 3 * NB * K + ... <= 32 vectors
    if constexpr (K <= 3)
      for (; c + 4 * kLanes <= vec_end; c += 4 * kLanes) grad_row_slide<K, 4>(xrow, dyrow, o_lo, o_hi, pl, C, c, d, a);
    for (; c + 2 * kLanes <= vec_end; c += 2 * kLanes) grad_row_slide<K, 2>(xrow, dyrow, o_lo, o_hi, pl, C, c, d, a);
    for (; c < vec_end; c += kLanes) grad_row_slide<K, 1>(xrow, dyrow, o_lo, o_hi, pl, C, c, d, a);
    return;
  }
  // Up to 3 taps: six channel vectors per walk along the row (18 accumulators), so that a 96-channel
  // row is walked once, not three times (dw3x3 96ch 112^2 b16 weight gradient 8.5 -> 7.5 ms).
  if constexpr (K <= 3)
    for (; c + 6 * kLanes <= vec_end; c += 6 * kLanes) grad_row_taps<K, 6>(xrow, dyrow, o_lo, o_hi, sw, pl, C, c, d, a);
  for (; c + 2 * kLanes <= vec_end; c += 2 * kLanes) grad_row_taps<K, 2>(xrow, dyrow, o_lo, o_hi, sw, pl, C, c, d, a);
  for (; c < vec_end; c += kLanes) grad_row_taps<K, 1>(xrow, dyrow, o_lo, o_hi, sw, pl, C, c, d, a);
}

// Channels [0, vec_end) of the interior columns, for kernel widths 1..7 (compile-time K keeps the
// accumulators in registers). Returns false for wider kernels, which take the one-tap path.
inline bool grad_row_all_taps(int64_t K, const float* xrow, const float* dyrow, int64_t o_lo, int64_t o_hi,
                              int64_t sw, int64_t pl, int64_t C, int64_t vec_end, float* d, RowsAhead a) {
  switch (K) {
    case 1: grad_row_taps_all<1>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 2: grad_row_taps_all<2>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 3: grad_row_taps_all<3>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 4: grad_row_taps_all<4>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 5: grad_row_taps_all<5>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 6: grad_row_taps_all<6>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    case 7: grad_row_taps_all<7>(xrow, dyrow, o_lo, o_hi, sw, pl, C, vec_end, d, a); return true;
    default: return false;
  }
}

inline void check_shapes(const ConvGeometry& g, const Shape& w, const char* op) {
  SKN_REQUIRE(g.out_c == g.in_c, ShapeError, op, ": depthwise geometry needs out_c == in_c (multiplier 1), got ",
              g.in_c, " -> ", g.out_c);
  SKN_REQUIRE(w == Shape({g.k_h, g.k_w, g.in_c}), ShapeError, op, ": weight has shape ", w.str(), ", expected [",
              g.k_h, "x", g.k_w, "x", g.in_c, "]");
}

}  // namespace dw_detail

inline Tensor<Cpu> depthwise_conv2d_forward(const Tensor<Cpu>& x, const Tensor<Cpu>& w, const Tensor<Cpu>* bias,
                                            const ConvGeometry& g) {
  using namespace dw_detail;
  check_shapes(g, w.shape(), "cpu::depthwise_conv2d_forward");
  SKN_REQUIRE(x.shape() == g.in_shape(), ShapeError, "cpu::depthwise_conv2d_forward: x has shape ",
              x.shape().str(), ", the geometry expects ", g.in_shape().str());
  if (bias)
    SKN_REQUIRE(bias->shape() == Shape{g.in_c}, ShapeError, "cpu::depthwise_conv2d_forward: bias has shape ",
                bias->shape().str(), ", expected [", g.in_c, "]");
  Tensor<Cpu> y(g.out_shape());
  const int64_t C = g.in_c;
  const float* xp = x.data();
  const float* wp = w.data();
  const float* bp = bias ? bias->data() : nullptr;
  float* yp = y.data();
  parallel_for(0, g.n * g.out_h, [&](int64_t row) {
    const int64_t n = row / g.out_h, oh = row % g.out_h;
    const int64_t ih0 = oh * g.stride_h - g.pad_top;
    const TapRange kh = taps_inside(ih0, g.k_h, g.in_h);
    auto walk = [&](int64_t ow) {
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const TapRange kw = taps_inside(iw0, g.k_w, g.in_w);
      TapWalk t{xp, g.in_w * C, C, wp, g.k_w * C, C, 0, 0};
      if (kh.hi > kh.lo && kw.hi > kw.lo) {  // else the window lies in the padding: out = bias
        t.a = xp + ((n * g.in_h + ih0 + kh.lo) * g.in_w + iw0 + kw.lo) * C;
        t.b = wp + (kh.lo * g.k_w + kw.lo) * C;
        t.rows = kh.hi - kh.lo;
        t.cols = kw.hi - kw.lo;
      }
      return t;
    };
    float* out = yp + row * g.out_w * C;
    // Stride 1: the interior of the row slides (slide_row), the borders go pixel by pixel. Output
    // pixels [lo, hi) have all K_w columns of their window inside the image.
    const int64_t lo = std::min(g.out_w, g.pad_left);
    const int64_t hi = std::max(lo, std::min(g.out_w, g.in_w - g.k_w + g.pad_left + 1));
    // The next output row of this image reads input row ih_new for the first time.
    const int64_t ih_new = ih0 + g.stride_h + g.k_h - 1;
    const float* ahead =
        oh + 1 < g.out_h && ih_new < g.in_h ? xp + ((n * g.in_h + ih_new) * g.in_w + lo - g.pad_left) * C : nullptr;
    if (g.stride_w != 1 || hi - lo < 8 || kh.hi <= kh.lo ||
        !slide_row_any<+1>(g.k_w, walk(lo), hi - lo, C, bp, out + lo * C, ahead)) {
      // Whole rows here: the next output row reads input rows ih0 + K .. ih0 + sh + K - 1 first.
      const int64_t r0 = std::max<int64_t>(0, std::max(ih0 + g.k_h, ih0 + g.stride_h));
      const int64_t r1 = std::min(g.in_h, ih0 + g.stride_h + g.k_h);
      Ahead rows;
      if (oh + 1 < g.out_h && r1 > r0) rows = {xp + (n * g.in_h + r0) * g.in_w * C, (r1 - r0) * g.in_w * C};
      tap_sum_row(g.out_w, 1, walk, C, bp, out, rows);
      return;
    }
    for (int64_t ow = 0; ow < lo; ++ow) tap_sum(walk(ow), C, bp, out + ow * C);
    for (int64_t ow = hi; ow < g.out_w; ++ow) tap_sum(walk(ow), C, bp, out + ow * C);
  });
  return y;
}

// ---- row kernels shared by the backward functions -------------------------------------------------
namespace dw_detail {

// dx for input row `row` (= n * H + ih): the gather over the output pixels whose windows cover it.
// With fetch_ahead, the dy row that input row ih + 1 reads first is requested while this one computes
// (the fused backward has it in cache already).
inline void input_grad_row(const ConvGeometry& g, const float* dyp, const float* wp, int64_t row, float* dxp,
                           bool fetch_ahead) {
  const int64_t C = g.in_c;
  const int64_t n = row / g.in_h, ih = row % g.in_h;
  const TapRange kh = taps_reaching(ih, g.k_h, g.stride_h, g.pad_top, g.out_h);
  auto walk = [&](int64_t iw) {
    const TapRange kw = taps_reaching(iw, g.k_w, g.stride_w, g.pad_left, g.out_w);
    // Tap (i, j) pairs weight (i, j) with dy at output ((ih + pt - i) / sh, (iw + pl - j) / sw): the
    // next reaching tap row (i + sh) is one output row UP, the next tap column one output pixel LEFT.
    TapWalk t{dyp, -g.out_w * C, -C, wp, g.stride_h * g.k_w * C, g.stride_w * C, 0, 0};
    if (kh.hi > kh.lo && kw.hi > kw.lo) {
      const int64_t oh0 = (ih + g.pad_top - kh.lo) / g.stride_h, ow0 = (iw + g.pad_left - kw.lo) / g.stride_w;
      t.a = dyp + ((n * g.out_h + oh0) * g.out_w + ow0) * C;
      t.b = wp + (kh.lo * g.k_w + kw.lo) * C;
      t.rows = (kh.hi - kh.lo + g.stride_h - 1) / g.stride_h;
      t.cols = (kw.hi - kw.lo + g.stride_w - 1) / g.stride_w;
    }
    return t;
  };
  float* out = dxp + row * g.in_w * C;
  // Stride 1: input pixels [lo, hi) are reached by all K_w tap columns (output columns iw + pl - K_w
  // + 1 .. iw + pl all exist) and slide like the forward pass, right to left.
  const int64_t lo = std::min(g.in_w, std::max<int64_t>(0, g.k_w - 1 - g.pad_left));
  const int64_t hi = std::max(lo, std::min(g.in_w, g.out_w - g.pad_left));
  const int64_t oh_new = (ih + 1 + g.pad_top) / g.stride_h;
  const float* ahead = fetch_ahead && ih + 1 < g.in_h && oh_new < g.out_h
                           ? dyp + ((n * g.out_h + oh_new) * g.out_w + lo + g.pad_left) * C
                           : nullptr;
  if (g.stride_w != 1 || hi - lo < 8 || kh.hi <= kh.lo ||
      !slide_row_any<-1>(g.k_w, walk(lo), hi - lo, C, nullptr, out + lo * C, ahead)) {
    Ahead row;  // the whole dy row oh_new
    if (fetch_ahead && ih + 1 < g.in_h && oh_new < g.out_h)
      row = {dyp + (n * g.out_h + oh_new) * g.out_w * C, g.out_w * C};
    tap_sum_row(g.in_w, g.stride_w, walk, C, nullptr, out, row);
    return;
  }
  for (int64_t iw = 0; iw < lo; ++iw) tap_sum(walk(iw), C, nullptr, out + iw * C);
  for (int64_t iw = hi; iw < g.in_w; ++iw) tap_sum(walk(iw), C, nullptr, out + iw * C);
}

// Adds output row `row`'s (= n * OH + oh) contribution to the weight gradient `part` [kh][kw][C].
inline void weight_grad_row(const ConvGeometry& g, const float* xp, const float* dyp, int64_t row, float* part) {
  const int64_t C = g.in_c, vec_end = C / kLanes * kLanes;
  const int64_t n = row / g.out_h, oh = row % g.out_h;
  const int64_t ih0 = oh * g.stride_h - g.pad_top;
  const TapRange kh = taps_inside(ih0, g.k_h, g.in_h);
  const float* dyrow = dyp + row * g.out_w * C;
  // Output columns whose whole kernel row lies inside the image: there every tap j is valid (the
  // range for tap 0 starts last and the range for tap KW-1 ends first).
  const int64_t in_lo = outputs_inside(0, g.stride_w, g.pad_left, g.in_w, g.out_w).lo;
  const int64_t in_hi = outputs_inside(g.k_w - 1, g.stride_w, g.pad_left, g.in_w, g.out_w).hi;
  // The next output row of this image reads one new input row and its dy row: the first kernel row's
  // walk requests them piece by piece (the hardware prefetchers alone left this loop well below the
  // memory bandwidth). Rows without that walk request them all at once, here.
  const int64_t ih_new = ih0 + g.stride_h + g.k_h - 1;
  RowsAhead ahead;
  if (oh + 1 < g.out_h) {
    ahead.dy = dyrow + g.out_w * C;
    if (ih_new < g.in_h) ahead.x = xp + (n * g.in_h + ih_new) * g.in_w * C;
  }
  if (!(in_hi > in_lo && vec_end > 0 && g.k_w <= 7 && kh.hi > kh.lo)) {
    if (ahead.dy) prefetch_to_l2(ahead.dy, g.out_w * C);
    if (ahead.x) prefetch_to_l2(ahead.x, g.in_w * C);
  }
  // A 3x3 kernel whose three rows all lie inside the image: the whole kernel in one walk per vector.
  const bool whole_kernel = g.k_h == 3 && g.k_w == 3 && g.stride_w == 1 && kh.lo == 0 && kh.hi == 3 &&
                            in_hi > in_lo && vec_end > 0;
  if (whole_kernel)
    for (int64_t c = 0; c < vec_end; c += kLanes)
      grad_rows3_slide(xp + (n * g.in_h + ih0) * g.in_w * C, g.in_w * C, dyrow, in_lo, in_hi, g.pad_left, C, c, part,
                       ahead);
  for (int64_t i = kh.lo; i < kh.hi; ++i) {
    const float* xrow = xp + ((n * g.in_h + ih0 + i) * g.in_w) * C;
    float* d = part + i * g.k_w * C;
    const bool fast = whole_kernel ||
                      (in_hi > in_lo && vec_end > 0 &&
                       grad_row_all_taps(g.k_w, xrow, dyrow, in_lo, in_hi, g.stride_w, g.pad_left, C, vec_end, d,
                                         i == kh.lo ? ahead : RowsAhead{}));
    for (int64_t j = 0; j < g.k_w; ++j) {
      const TapRange ow = outputs_inside(j, g.stride_w, g.pad_left, g.in_w, g.out_w);
      if (fast) {  // the borders of the row, then the channels past the last full vector
        grad_row_one_tap(xrow, dyrow, j, ow.lo, std::min(ow.hi, in_lo), g.stride_w, g.pad_left, C, 0, vec_end, d);
        grad_row_one_tap(xrow, dyrow, j, std::max(ow.lo, in_hi), ow.hi, g.stride_w, g.pad_left, C, 0, vec_end, d);
        grad_row_one_tap(xrow, dyrow, j, ow.lo, ow.hi, g.stride_w, g.pad_left, C, vec_end, C, d);
      } else {
        grad_row_one_tap(xrow, dyrow, j, ow.lo, ow.hi, g.stride_w, g.pad_left, C, 0, C, d);
      }
    }
  }
}

// The weight gradient is summed per slice of output rows; the slice count is fixed (not the thread
// count), so the summation order, and the result, depend on the shape alone.
inline constexpr int64_t kSlices = 16;

// Runs row_fn(row, partial_of_slice) for every output row, slice by slice in parallel, then adds the
// slices in order to dw in one step (so accumulating twice from zero is exactly double).
template <class RowFn>
void sliced_weight_grad(const ConvGeometry& g, Tensor<Cpu>& dw, RowFn&& row_fn) {
  const int64_t rows = g.n * g.out_h, size = g.k_h * g.k_w * g.in_c;
  const int64_t slices = std::min(rows, kSlices);
  std::vector<float> partial(static_cast<size_t>(slices * size), 0.f);
  parallel_for(0, slices, [&](int64_t s) {
    for (int64_t row = rows * s / slices; row < rows * (s + 1) / slices; ++row) row_fn(row, partial.data() + s * size);
  });
  std::vector<float> total(static_cast<size_t>(size));
  detail::sum_in_order(partial.data(), slices, size, total.data());
  detail::accumulate(dw.data(), total.data(), size);
}

inline void check_backward(const ConvGeometry& g, const Tensor<Cpu>& x, const Tensor<Cpu>& dy, const Tensor<Cpu>& dw,
                           const Tensor<Cpu>* dbias, const char* op) {
  check_shapes(g, dw.shape(), op);
  SKN_REQUIRE(x.shape() == g.in_shape() && dy.shape() == g.out_shape(), ShapeError, op, ": x ", x.shape().str(),
              " and dy ", dy.shape().str(), " do not match the geometry ", g.in_shape().str(), " -> ",
              g.out_shape().str());
  if (dbias)
    SKN_REQUIRE(dbias->shape() == Shape{g.in_c}, ShapeError, op, ": dbias has shape ", dbias->shape().str(),
                ", expected [", g.in_c, "]");
}

}  // namespace dw_detail

inline Tensor<Cpu> depthwise_conv2d_backward_input(const Tensor<Cpu>& dy, const Tensor<Cpu>& w,
                                                   const ConvGeometry& g) {
  using namespace dw_detail;
  check_shapes(g, w.shape(), "cpu::depthwise_conv2d_backward_input");
  SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, "cpu::depthwise_conv2d_backward_input: dy has shape ",
              dy.shape().str(), ", the geometry expects ", g.out_shape().str());
  Tensor<Cpu> dx(g.in_shape());
  parallel_for(0, g.n * g.in_h, [&](int64_t row) { input_grad_row(g, dy.data(), w.data(), row, dx.data(), true); });
  return dx;
}

inline void depthwise_conv2d_backward_params(const Tensor<Cpu>& x, const Tensor<Cpu>& dy, const ConvGeometry& g,
                                             Tensor<Cpu>& dw, Tensor<Cpu>* dbias) {
  using namespace dw_detail;
  check_backward(g, x, dy, dw, dbias, "cpu::depthwise_conv2d_backward_params");
  sliced_weight_grad(g, dw, [&](int64_t row, float* part) { weight_grad_row(g, x.data(), dy.data(), row, part); });
  if (dbias) detail::add_column_sums(dy.data(), g.out_pixels(), g.in_c, dbias->data());
}

// Both gradients in one pass: returns dx and ADDS dL/dw (and dL/dbias) like backward_params. Same
// results, bit for bit, as backward_input + backward_params, but dy is read from memory once instead of
// twice: right after output row oh's weight-gradient contribution, the input rows whose LAST covering
// output row is oh get their dx, while the dy rows they need are still in cache. Every input row has
// exactly one such output row, so the slices write disjoint dx rows.
inline Tensor<Cpu> depthwise_conv2d_backward(const Tensor<Cpu>& x, const Tensor<Cpu>& dy, const Tensor<Cpu>& w,
                                             const ConvGeometry& g, Tensor<Cpu>& dw, Tensor<Cpu>* dbias) {
  using namespace dw_detail;
  check_backward(g, x, dy, dw, dbias, "cpu::depthwise_conv2d_backward");
  check_shapes(g, w.shape(), "cpu::depthwise_conv2d_backward");
  Tensor<Cpu> dx(g.in_shape());
  sliced_weight_grad(g, dw, [&](int64_t row, float* part) {
    weight_grad_row(g, x.data(), dy.data(), row, part);
    // Input rows ih whose last covering output row, min(floor((ih + pt) / sh), OH - 1), is oh; the
    // first output row also takes the rows above, the last one the rows below.
    const int64_t n = row / g.out_h, oh = row % g.out_h;
    const int64_t lo = oh == 0 ? 0 : std::max<int64_t>(0, oh * g.stride_h - g.pad_top);
    const int64_t hi = oh == g.out_h - 1 ? g.in_h : std::min<int64_t>(g.in_h, (oh + 1) * g.stride_h - g.pad_top);
    for (int64_t ih = lo; ih < hi; ++ih) input_grad_row(g, dy.data(), w.data(), n * g.in_h + ih, dx.data(), false);
  });
  if (dbias) detail::add_column_sums(dy.data(), g.out_pixels(), g.in_c, dbias->data());
  return dx;
}

}  // namespace skinnet::cpu
