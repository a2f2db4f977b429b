#pragma once
// Dropout and DropConnect (stochastic depth) mask kernels, drawing from skinnet's Philox4x32-10
// (include/skinnet/core/philox.hpp, __host__ __device__). Host launchers: include/skinnet/cuda/dropout.hpp.
//
// The mask is a pure function of (seed, stream, step, element index) — DESIGN.md §8: key = seed,
// counter = {stream, step, index / 4, index >> 34}, element i takes word i % 4 — exactly as the CPU op
// (include/skinnet/cpu/dropout.hpp) draws it, so both devices drop the same elements and produce the
// same bits (kept values are multiplied by the same float 1 / keep). Backward regenerates the mask
// from the same counters instead of storing it.
#include <cstdint>

#include "skinnet/core/philox.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/elementwise.cuh"

namespace skinnet::cuda::kernels {

// Dropout: thread-stride over groups of 4 elements; one Philox block gives the four uniforms of a
// group (the same block the CPU computes for it). out[i] = u_i < keep ? in[i] * scale : 0.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    dropout_mask_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t n, float keep, float scale,
                        uint32_t key0, uint32_t key1, uint32_t stream, uint32_t step) {
  const int64_t groups = (n + 3) / 4;
  for (int64_t g = grid_stride_begin(); g < groups; g += grid_stride_step()) {
    const uint64_t first = static_cast<uint64_t>(g) * 4;
    const Philox4x32 r = philox4x32_10(
        Philox4x32{{stream, step, static_cast<uint32_t>(first >> 2), static_cast<uint32_t>(first >> 34)}}, key0,
        key1);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = static_cast<int64_t>(first) + j;
      if (i < n) {
        const float u = static_cast<float>(r.v[j] >> 8) * (1.0f / 16777216.0f);
        out[i] = u < keep ? in[i] * scale : 0.0f;
      }
    }
  }
}

// DropConnect: blockIdx.y is the sample n (its whole [H, W, C] slab of `per` values is kept or
// dropped); each thread draws the sample's uniform once and strides over the slab along x.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    drop_connect_mask_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t per, float keep,
                             float scale, uint64_t seed, uint32_t stream, uint32_t step) {
  const int64_t n = blockIdx.y;
  const float m = philox_uniform(seed, stream, step, static_cast<uint64_t>(n)) < keep ? scale : 0.0f;
  const float* __restrict__ src = in + n * per;
  float* __restrict__ dst = out + n * per;
  for (int64_t i = grid_stride_begin(); i < per; i += grid_stride_step()) dst[i] = src[i] * m;
}

}  // namespace skinnet::cuda::kernels
