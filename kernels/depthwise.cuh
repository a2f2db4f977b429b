#pragma once
// Depthwise 2-D convolution kernels (channel multiplier 1), NHWC activations, weights [kh][kw][c].
// Host launchers: include/skinnet/cuda/depthwise.hpp; design notes and ptxas report: docs/kernels.md.
//
// A depthwise conv does kh*kw multiply-adds per output element and reuses nothing across channels, so
// it is bound by memory traffic; what matters is that every warp reads contiguous memory. In NHWC the
// channels of a pixel are contiguous, so every kernel here gives consecutive threads consecutive
// CHANNELS of the same pixel: each tap is then one coalesced 128-byte read per warp (when C >= 32),
// for x, dy and the weights alike. No shared memory is needed for the forward and input-gradient
// passes: the few re-reads of neighbouring pixels (kh*kw per element) hit in L1/L2.
//
//   forward          one thread per output element: a gather over the window's taps inside the
//                    image (bias first, then taps in (i, j) order).
//   input gradient   one thread per input element: a gather over the output pixels whose window
//                    covers it (the transposed conv), so there are no write conflicts and no atomics.
//   weight gradient  dW[i][j][c] = sum over all N*OH*OW output pixels: a block owns 32 channels of
//                    one tap (the bias gradient is one extra "tap" whose input is 1) and one split of
//                    the pixels; its 8 row lanes sum every 8th pixel, lane 0 adds the 8 lane sums in
//                    order, and the split partials are added in split order by add_split_sums
//                    (kernels/conv.cuh). Deterministic: no atomics, the order depends on the shape only.
//
// K is the kernel size when it is known at compile time (3, 5, 7: fully unrolled tap loops, the
// weights of a thread's channel in registers), or 0 for any kh x kw read from the dims.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"
#include "kernels/conv.cuh"  // ConvDims, add_split_sums

namespace skinnet::cuda::kernels {

inline constexpr int kDepthwiseThreads = 256;

// y = depthwise(x, w) + bias, one thread per element of y (n, oh, ow, c), 1-D grid over
// ceil(n*oh*ow*c / 256) blocks of 256 threads.
template <int K>
__global__ void __launch_bounds__(kDepthwiseThreads)
    depthwise_forward(ConvDims d, const float* __restrict__ x, const float* __restrict__ w,
                      const float* __restrict__ bias, float* __restrict__ y) {
  const int kh = K > 0 ? K : d.kh, kw = K > 0 ? K : d.kw;
  const int64_t total = static_cast<int64_t>(d.n) * d.oh * d.ow * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int C = d.c;
  const int c = static_cast<int>(e % C);
  int n, oh, ow;
  conv_detail::split_pixel(static_cast<int>(e / C), d.oh, d.ow, n, oh, ow);
  const int ih0 = oh * d.sh - d.pt, iw0 = ow * d.sw - d.pl;
  const float* xn = x + static_cast<int64_t>(n) * d.h * d.w * C + c;
  float acc = bias ? __ldg(bias + c) : 0.f;
#pragma unroll
  for (int i = 0; i < kh; ++i) {
    const int ih = ih0 + i;
    if (ih < 0 || ih >= d.h) continue;  // padding rows contribute 0
#pragma unroll
    for (int j = 0; j < kw; ++j) {
      const int iw = iw0 + j;
      if (iw < 0 || iw >= d.w) continue;
      acc = fmaf(xn[(static_cast<int64_t>(ih) * d.w + iw) * C], __ldg(w + (i * kw + j) * C + c), acc);
    }
  }
  y[e] = acc;
}

// dx = the transposed depthwise conv of dy, one thread per element of dx (n, ih, iw, c): tap (i, j)
// of output (oh, ow) reads input (oh*sh - pt + i, ow*sw - pl + j), so input ih is reached by tap i of
// output oh = (ih + pt - i) / sh when that division is exact and 0 <= oh < OH. Grid as the forward,
// over n*h*w*c.
template <int K>
__global__ void __launch_bounds__(kDepthwiseThreads)
    depthwise_backward_input(ConvDims d, const float* __restrict__ dy, const float* __restrict__ w,
                             float* __restrict__ dx) {
  const int kh = K > 0 ? K : d.kh, kw = K > 0 ? K : d.kw;
  const int64_t total = static_cast<int64_t>(d.n) * d.h * d.w * d.c;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= total) return;
  const int C = d.c;
  const int c = static_cast<int>(e % C);
  int n, ih, iw;
  conv_detail::split_pixel(static_cast<int>(e / C), d.h, d.w, n, ih, iw);
  const float* dyn = dy + static_cast<int64_t>(n) * d.oh * d.ow * C + c;
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < kh; ++i) {
    const int th = ih + d.pt - i;  // = oh * sh if tap i of output row oh lands on ih
    if (th < 0 || th % d.sh != 0 || th / d.sh >= d.oh) continue;
    const int oh = th / d.sh;
#pragma unroll
    for (int j = 0; j < kw; ++j) {
      const int tw = iw + d.pl - j;
      if (tw < 0 || tw % d.sw != 0 || tw / d.sw >= d.ow) continue;
      const int ow = tw / d.sw;
      acc = fmaf(dyn[(static_cast<int64_t>(oh) * d.ow + ow) * C], __ldg(w + (i * kw + j) * C + c), acc);
    }
  }
  dx[e] = acc;
}

// Weight (and bias) gradient partials. Block: 32 channels (x) x 8 pixel lanes (y). Grid: x =
// ceil(C / 32) * taps, y = splits, where taps = kh*kw, plus 1 when the bias gradient is wanted (tap
// kh*kw: dy times 1). Block (group, tap, s) writes partial[(s * taps + tap) * C + c] = the sum over
// output pixels p in [s * pixels_per_split, min(pixels, (s + 1) * pixels_per_split)) of
// dy[p, c] * x[the input pixel tap (i, j) of p reads, c] (0 where that is padding).
inline constexpr int kDepthwiseGradChannels = 32, kDepthwiseGradLanes = 8;

template <class T>
__global__ void __launch_bounds__(kDepthwiseGradChannels * kDepthwiseGradLanes)
    depthwise_weight_grad(ConvDims d, const T* __restrict__ x, const T* __restrict__ dy, int taps,
                          int pixels_per_split, T* __restrict__ partial) {
  __shared__ T lane_sum[kDepthwiseGradLanes][kDepthwiseGradChannels + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int C = d.c;
  const int groups = (C + kDepthwiseGradChannels - 1) / kDepthwiseGradChannels;
  const int tap = static_cast<int>(blockIdx.x) / groups;
  const int c = static_cast<int>(blockIdx.x) % groups * kDepthwiseGradChannels + tx;
  const int split = static_cast<int>(blockIdx.y);
  const bool is_bias = tap == d.kh * d.kw;  // the extra tap: the bias gradient
  const int i = tap / d.kw, j = tap % d.kw;
  const int pixels = d.n * d.oh * d.ow;
  const int p_begin = split * pixels_per_split;
  const int p_end = pixels - p_begin < pixels_per_split ? pixels : p_begin + pixels_per_split;

  T acc = 0;
  if (c < C) {
    for (int p = p_begin + ty; p < p_end; p += kDepthwiseGradLanes) {
      const T g = dy[static_cast<int64_t>(p) * C + c];
      if (is_bias) {
        acc += g;
        continue;
      }
      int n, oh, ow;
      conv_detail::split_pixel(p, d.oh, d.ow, n, oh, ow);
      const int ih = oh * d.sh - d.pt + i, iw = ow * d.sw - d.pl + j;
      if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
      acc = fmaf(g, x[((static_cast<int64_t>(n) * d.h + ih) * d.w + iw) * C + c], acc);
    }
  }
  lane_sum[ty][tx] = acc;
  __syncthreads();  // every lane's sum is in shared memory before lane 0 adds them up
  if (ty == 0 && c < C) {
    T total = lane_sum[0][tx];
#pragma unroll
    for (int l = 1; l < kDepthwiseGradLanes; ++l) total += lane_sum[l][tx];
    partial[(static_cast<int64_t>(split) * taps + tap) * C + c] = total;
  }
}

}  // namespace skinnet::cuda::kernels
