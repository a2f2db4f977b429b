#pragma once
// The memory-bound parts of the squeeze-and-excitation block (layers/se_block.hpp) on the GPU: the
// channel-wise scale of the feature map and its input gradient. Host launchers:
// include/skinnet/cuda/se.hpp. The squeeze is global average pooling and the gate gradient
// dgate[n, c] = sum_hw dy * x a per-sample column sum (kernels/reduce.cuh, ProductTerm); the
// excitation's two small dense layers go through the GEMM.
//
// Both kernels are flat grid-stride loops over the NHWC map: element i is channel c = i % C of pixel
// row r = i / C, which belongs to sample n = r / HW; the [N, C] gate is tiny and read through the
// read-only cache.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"
#include "kernels/elementwise.cuh"

namespace skinnet::cuda::kernels {

// y[n, h, w, c] = x[n, h, w, c] * gate[n, c]
template <int Threads>
__global__ void __launch_bounds__(Threads)
    se_scale_kernel(const float* __restrict__ x, const float* __restrict__ gate, float* __restrict__ y, int64_t HW,
                    int C, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const int64_t row = i / C;
    const int c = static_cast<int>(i - row * C);
    y[i] = x[i] * __ldg(gate + (row / HW) * C + c);
  }
}

// dx = dy * gate[n, c] + dsqueeze[n, c] * inv_hw  (the scale's gradient plus the squeeze's)
template <int Threads>
__global__ void __launch_bounds__(Threads)
    se_input_gradient_kernel(const float* __restrict__ dy, const float* __restrict__ gate,
                             const float* __restrict__ dsqueeze, float* __restrict__ dx, int64_t HW, int C,
                             float inv_hw, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const int64_t row = i / C;
    const int64_t nc = (row / HW) * C + (i - row * C);
    dx[i] = dy[i] * __ldg(gate + nc) + __ldg(dsqueeze + nc) * inv_hw;
  }
}

}  // namespace skinnet::cuda::kernels
