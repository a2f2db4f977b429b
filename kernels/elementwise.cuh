#pragma once
// Elementwise kernels shared by several layers: the sum of two tensors (Residual's merge), in-place
// accumulation (gradient sums) and a per-column bias (Dense). Host launchers: include/skinnet/cuda/elementwise.hpp.
//
// Every flat elementwise kernel of skinnet uses the same shape of loop: a 1-D grid of 256-thread
// blocks walks the tensor with a grid-stride loop, so one launch configuration works for any size
// (the grid is capped, see cuda/elementwise.hpp, and each thread then takes several elements), and
// consecutive threads touch consecutive floats, so every warp's loads and stores are coalesced.
// Indices are 64-bit: feature maps of a large batch exceed 2^31 floats.
//
// Every kernel of the non-convolution families is a template, at least on its block size `Threads`
// (which is also its __launch_bounds__): the kernels are defined in headers, and a non-template
// __global__ function defined in a header that two .cu files include is defined twice when they are
// linked (nvcc ignores `inline` on __global__), whereas template instantiations merge.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda::kernels {

// Threads per block of the flat elementwise kernels (8 warps: enough to hide memory latency, small
// enough that a partial last block wastes little).
inline constexpr int kElementwiseThreads = 256;

// First index and stride of this thread's grid-stride loop.
__device__ __forceinline__ int64_t grid_stride_begin() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride_step() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// out = a + b
template <int Threads>
__global__ void __launch_bounds__(Threads)
    elementwise_add(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) out[i] = a[i] + b[i];
}

// dst += src
template <int Threads>
__global__ void __launch_bounds__(Threads)
    elementwise_add_into(float* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) dst[i] += src[i];
}

// y[r, c] += bias[c] for rows of C values (the bias of a dense layer; bias is a tiny array that stays
// in the read-only cache).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    add_bias_rows(float* __restrict__ y, const float* __restrict__ bias, int C, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) y[i] += __ldg(bias + i % C);
}

}  // namespace skinnet::cuda::kernels
