#pragma once
// Pointwise activation kernels (ReLU, Swish, Mish, Sigmoid, none), forward and backward. Host
// launchers: include/skinnet/cuda/activation.hpp.
//
// The scalar formulas are skinnet::act::forward / derivative from include/skinnet/cpu/activation.hpp,
// which are __host__ __device__: both backends evaluate the very same float expressions (including
// skinnet's own exp), so CPU and CUDA results agree to the last bit wherever the compiler contracts
// them alike. The activation is a template parameter: one branch-free kernel per activation.
#include <cstdint>

#include "skinnet/cpu/activation.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/elementwise.cuh"

namespace skinnet::cuda::kernels {

// y = act(x)
template <Act A>
__global__ void __launch_bounds__(kElementwiseThreads)
    act_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) y[i] = act::forward<A>(x[i]);
}

// dx = dy * act'(x), x being the activation's input.
template <Act A>
__global__ void __launch_bounds__(kElementwiseThreads)
    act_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx,
                        int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) dx[i] = dy[i] * act::derivative<A>(x[i]);
}

}  // namespace skinnet::cuda::kernels
