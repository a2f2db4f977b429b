#pragma once
// Max and average pooling kernels, NHWC. Host launchers: include/skinnet/cuda/pool.hpp; design notes
// and ptxas report: docs/kernels.md. Semantics exactly as include/skinnet/cpu/pool.hpp:
//   max  padded positions never take part; the gradient goes to the FIRST maximum of the window in
//        (kh, kw) scan order (strictly greater wins);
//   avg  the mean over the window's positions inside the input (padding not counted).
//
// Every kernel is one thread per element with consecutive threads on consecutive channels (coalesced
// in NHWC) and no shared memory: pooling reads each input a few times at most and does almost no
// arithmetic, so the L1/L2 caches serve the overlap between neighbouring windows.
//
// Both backward passes are GATHERS over the output pixels whose windows cover an input element, in
// ascending (oh, ow) order, instead of scatters from each output (which would need atomics, or a
// race, where windows overlap). The max backward recomputes each covering window's arg-max to see
// whether this element won it: a few extra loads per element, no stored indices, no atomics, and the
// sum of an element's contributions happens in the same order as the CPU's scatter (bit-identical).
//
// The kernels are templates on the element type (the library uses float) only so that this header
// can be included by several translation units.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"
#include "kernels/conv.cuh"  // ConvDims, conv_detail::split_pixel

namespace skinnet::cuda::kernels {

inline constexpr int kPoolThreads = 256;

namespace pool_detail {

// Window taps k in [lo, hi) of a window starting at i0 that lie inside [0, extent).
struct TapRange {
  int lo, hi;
};
__device__ __forceinline__ TapRange taps_inside(int i0, int k, int extent) {
  return {i0 < 0 ? -i0 : 0, extent - i0 < k ? extent - i0 : k};
}

// Output positions o in [lo, hi) whose window [o*s - pad, o*s - pad + k) contains input position i.
__device__ __forceinline__ TapRange covering(int i, int k, int s, int pad, int out) {
  const int t = i + pad;  // o*s <= t < o*s + k
  const int lo = t - k + 1 <= 0 ? 0 : (t - k + 1 + s - 1) / s;
  const int hi = t / s + 1 < out ? t / s + 1 : out;
  return {lo, hi > lo ? hi : lo};
}

// The first maximum of output (oh, ow)'s window in channel c of the image at xn (xn already offset by
// the channel): its value and its flat position ih * W + iw.
template <class T>
struct ArgMax {
  T value;
  int pos;
};
template <class T>
__device__ __forceinline__ ArgMax<T> window_argmax(const ConvDims& d, const T* xn, int oh, int ow) {
  const int ih0 = oh * d.sh - d.pt, iw0 = ow * d.sw - d.pl;
  const TapRange kh = taps_inside(ih0, d.kh, d.h), kw = taps_inside(iw0, d.kw, d.w);
  ArgMax<T> best{xn[(static_cast<int64_t>(ih0 + kh.lo) * d.w + iw0 + kw.lo) * d.c], (ih0 + kh.lo) * d.w + iw0 + kw.lo};
  // Runtime trip counts of 1..k: unrolling them (nvcc's default, 4x) only adds remainder code, and in
  // max_pool_backward, where this is inlined inside two more loops, it made ptxas spill on sm_80.
#pragma unroll 1
  for (int i = kh.lo; i < kh.hi; ++i)
#pragma unroll 1
    for (int j = kw.lo; j < kw.hi; ++j) {
      const int pos = (ih0 + i) * d.w + iw0 + j;
      const T v = xn[static_cast<int64_t>(pos) * d.c];
      if (v > best.value) best = {v, pos};  // strictly greater: the first maximum keeps the gradient
    }
  return best;
}

}  // namespace pool_detail

// y[n, oh, ow, c] = max over the window; one thread per element of y, 1-D grid.
template <class T>
__global__ void __launch_bounds__(kPoolThreads)
    max_pool_forward(ConvDims d, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = static_cast<int64_t>(d.n) * d.oh * d.ow * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int c = static_cast<int>(e % d.c);
  int n, oh, ow;
  conv_detail::split_pixel(static_cast<int>(e / d.c), d.oh, d.ow, n, oh, ow);
  // The launcher guarantees padding < window, so every window holds an input element.
  y[e] = pool_detail::window_argmax(d, x + static_cast<int64_t>(n) * d.h * d.w * d.c + c, oh, ow).value;
}

// dx[n, ih, iw, c] = sum of dy over the covering outputs whose first maximum is (ih, iw); one thread per
// element of dx, 1-D grid.
template <class T>
__global__ void __launch_bounds__(kPoolThreads)
    max_pool_backward(ConvDims d, const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx) {
  const int64_t total = static_cast<int64_t>(d.n) * d.h * d.w * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int c = static_cast<int>(e % d.c);
  int n, ih, iw;
  conv_detail::split_pixel(static_cast<int>(e / d.c), d.h, d.w, n, ih, iw);
  const T* xn = x + static_cast<int64_t>(n) * d.h * d.w * d.c + c;
  const T* dyn = dy + static_cast<int64_t>(n) * d.oh * d.ow * d.c + c;
  const int me = ih * d.w + iw;
  const pool_detail::TapRange oh = pool_detail::covering(ih, d.kh, d.sh, d.pt, d.oh);
  const pool_detail::TapRange ow = pool_detail::covering(iw, d.kw, d.sw, d.pl, d.ow);
  T acc = 0;
  for (int o = oh.lo; o < oh.hi; ++o)
    for (int p = ow.lo; p < ow.hi; ++p)
      if (pool_detail::window_argmax(d, xn, o, p).pos == me) acc += dyn[(static_cast<int64_t>(o) * d.ow + p) * d.c];
  dx[e] = acc;
}

// y = mean over the window's inside positions; one thread per element of y, 1-D grid. The sum runs in
// (kh, kw) order and is then multiplied by the float 1/count, as on the CPU.
template <class T>
__global__ void __launch_bounds__(kPoolThreads)
    avg_pool_forward(ConvDims d, const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = static_cast<int64_t>(d.n) * d.oh * d.ow * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int c = static_cast<int>(e % d.c);
  int n, oh, ow;
  conv_detail::split_pixel(static_cast<int>(e / d.c), d.oh, d.ow, n, oh, ow);
  const T* xn = x + static_cast<int64_t>(n) * d.h * d.w * d.c + c;
  const int ih0 = oh * d.sh - d.pt, iw0 = ow * d.sw - d.pl;
  const pool_detail::TapRange kh = pool_detail::taps_inside(ih0, d.kh, d.h);
  const pool_detail::TapRange kw = pool_detail::taps_inside(iw0, d.kw, d.w);
  T sum = 0;
  for (int i = kh.lo; i < kh.hi; ++i)
    for (int j = kw.lo; j < kw.hi; ++j) sum += xn[(static_cast<int64_t>(ih0 + i) * d.w + iw0 + j) * d.c];
  y[e] = sum * (T(1) / static_cast<T>((kh.hi - kh.lo) * (kw.hi - kw.lo)));
}

// dx[n, ih, iw, c] = sum over the covering outputs of dy / (that output's count of inside positions);
// one thread per element of dx, 1-D grid.
template <class T>
__global__ void __launch_bounds__(kPoolThreads) avg_pool_backward(ConvDims d, const T* __restrict__ dy, T* __restrict__ dx) {
  const int64_t total = static_cast<int64_t>(d.n) * d.h * d.w * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int c = static_cast<int>(e % d.c);
  int n, ih, iw;
  conv_detail::split_pixel(static_cast<int>(e / d.c), d.h, d.w, n, ih, iw);
  const T* dyn = dy + static_cast<int64_t>(n) * d.oh * d.ow * d.c + c;
  const pool_detail::TapRange oh = pool_detail::covering(ih, d.kh, d.sh, d.pt, d.oh);
  const pool_detail::TapRange ow = pool_detail::covering(iw, d.kw, d.sw, d.pl, d.ow);
  T acc = 0;
  for (int o = oh.lo; o < oh.hi; ++o) {
    const pool_detail::TapRange kh = pool_detail::taps_inside(o * d.sh - d.pt, d.kh, d.h);
    for (int p = ow.lo; p < ow.hi; ++p) {
      const pool_detail::TapRange kw = pool_detail::taps_inside(p * d.sw - d.pl, d.kw, d.w);
      // The same float 1/count as the forward, so forward and backward are exact adjoints.
      const T inv = T(1) / static_cast<T>((kh.hi - kh.lo) * (kw.hi - kw.lo));
      acc += dyn[(static_cast<int64_t>(o) * d.ow + p) * d.c] * inv;
    }
  }
  dx[e] = acc;
}

}  // namespace skinnet::cuda::kernels
