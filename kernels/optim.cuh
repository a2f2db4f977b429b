#pragma once
// Optimizer update kernels (SGD / momentum / Nesterov, Adam / AdamW) and the two gradient-clipping
// helpers (sum of squares, scale). Host launchers: include/skinnet/cuda/optim.hpp, called by the
// optimizer templates of include/skinnet/train/ through argument-dependent lookup.
//
// Everything per step is precomputed on the host in double and passed by value as the small
// SgdStep / AdamStep structs shared with the CPU (include/skinnet/cpu/optim.hpp); each thread then
// evaluates the same float expressions as the CPU loop, element by element (grid-stride).
//
// The sum of squares is deterministic: block b sums the fixed range [b * kSumSquaresChunk,
// (b + 1) * kSumSquaresChunk) — each thread a fixed strided subset in double, then a fixed-shape tree
// in shared memory — and writes one partial per block; the host adds the partials in index order.
#include <cstdint>

#include "skinnet/cpu/optim.hpp"  // SgdStep, AdamStep
#include "skinnet/cuda/runtime.hpp"
#include "kernels/elementwise.cuh"

namespace skinnet::cuda::kernels {

// w -= lr * direction (see cpu/optim.hpp). The flags are template parameters: one branch-free kernel
// per variant. `b` (the momentum buffer) is not touched when Momentum is false.
template <int Threads, bool Momentum, bool Nesterov, bool First>
__global__ void __launch_bounds__(Threads)
    sgd_update_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ b, int64_t n,
                      SgdStep s) {
  const float lr = s.lr, mu = s.momentum, damp = 1.f - s.dampening, wd = s.weight_decay;
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const float d = g[i] + wd * w[i];
    if constexpr (!Momentum) {
      w[i] -= lr * d;
    } else {
      const float bi = First ? d : mu * b[i] + damp * d;
      b[i] = bi;
      w[i] -= lr * (Nesterov ? d + mu * bi : bi);
    }
  }
}

// Adam / AdamW: m, v are the moment estimates; decay_factor applies AdamW's decoupled decay first.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    adam_update_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                       float* __restrict__ v, int64_t n, AdamStep s) {
  const float b1 = s.beta1, b2 = s.beta2, c1 = 1.f - s.beta1, c2 = 1.f - s.beta2;
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const float wi = w[i] * s.decay_factor;
    const float gi = g[i] + s.l2 * wi;
    const float mi = b1 * m[i] + c1 * gi;
    const float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - s.step_size * mi / (sqrtf(vi) / s.bias_correction2_sqrt + s.eps);
  }
}

// g *= factor
template <int Threads>
__global__ void __launch_bounds__(Threads) grad_scale_kernel(float* __restrict__ g, int64_t n, float factor) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) g[i] *= factor;
}

// Elements summed by one block of grad_sum_squares_partials (a fixed partition of the tensor).
inline constexpr int64_t kSumSquaresChunk = 1 << 14;

// partial[blockIdx.x] = sum of g[i]^2 over the block's chunk, in double. Threads must be a power of two.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    grad_sum_squares_partials(const float* __restrict__ g, int64_t n, double* __restrict__ partial) {
  static_assert((Threads & (Threads - 1)) == 0, "the tree reduction halves the block");
  __shared__ double sums[Threads];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t lo = static_cast<int64_t>(blockIdx.x) * kSumSquaresChunk;
  const int64_t hi = lo + kSumSquaresChunk < n ? lo + kSumSquaresChunk : n;
  double acc = 0.0;
  for (int64_t i = lo + t; i < hi; i += Threads) acc += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  sums[t] = acc;
  __syncthreads();
  // Fixed-shape tree: the association of the sum never depends on which thread runs first.
  for (int half = Threads / 2; half > 0; half /= 2) {
    if (t < half) sums[t] += sums[t + half];
    __syncthreads();  // this level complete before the next reads it
  }
  if (t == 0) partial[blockIdx.x] = sums[0];
}

}  // namespace skinnet::cuda::kernels
