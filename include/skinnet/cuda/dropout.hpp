#pragma once
// Dropout and DropConnect on the Cuda backend (kernels/dropout.cuh), with the signatures of
// include/skinnet/cpu/dropout.hpp and bit-identical masks: same (seed, stream, step) -> same elements
// dropped on both devices, and the same output bits.
#include <algorithm>
#include <cstdint>

#include "kernels/dropout.cuh"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/dropout.hpp"  // (the CPU twin; keep_probability)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

namespace detail {

inline Tensor<Cuda> apply_dropout_mask(const Tensor<Cuda>& in, float keep, uint64_t seed, uint32_t stream,
                                       uint32_t step) {
  Tensor<Cuda> out(in.shape());
  const int64_t n = in.numel();
  if (n == 0) return out;
  SKN_LAUNCH(kernels::dropout_mask_kernel<kernels::kElementwiseThreads>, elementwise_grid((n + 3) / 4),
             kernels::kElementwiseThreads, 0, 0, in.data(), out.data(), n, keep, 1.0f / keep,
             static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), stream, step);
  return out;
}

inline Tensor<Cuda> apply_drop_connect_mask(const char* op, const Tensor<Cuda>& in, float keep, uint64_t seed,
                                            uint32_t stream, uint32_t step) {
  Tensor<Cuda> out(in.shape());
  if (in.empty()) return out;
  const int64_t N = in.shape()[0];
  const int64_t per = in.numel() / N;
  SKN_REQUIRE(N <= 65535, ValueError, op, ": a batch of ", N, " samples exceeds the kernel's 65535 grid rows");
  // Blocks along x cover one sample's values (capped like every elementwise grid), one grid row per sample.
  const dim3 grid(elementwise_grid(per).x, static_cast<unsigned>(N));
  SKN_LAUNCH(kernels::drop_connect_mask_kernel<kernels::kElementwiseThreads>, grid, kernels::kElementwiseThreads, 0, 0,
             in.data(), out.data(), per, keep, 1.0f / keep, seed, stream, step);
  return out;
}

}  // namespace detail

// Training-mode dropout of each element with probability `rate`.
inline Tensor<Cuda> dropout_forward(const Tensor<Cuda>& x, float rate, uint64_t seed, uint32_t stream, uint32_t step) {
  return detail::apply_dropout_mask(x, cpu::detail::keep_probability("dropout_forward", rate), seed, stream, step);
}
// dx = dy * mask / keep, with the mask of the forward call that had the same (seed, stream, step).
inline Tensor<Cuda> dropout_backward(const Tensor<Cuda>& dy, float rate, uint64_t seed, uint32_t stream,
                                     uint32_t step) {
  return detail::apply_dropout_mask(dy, cpu::detail::keep_probability("dropout_backward", rate), seed, stream, step);
}

// Training-mode drop-connect: zeroes whole samples (first dimension) with probability `rate`.
inline Tensor<Cuda> drop_connect_forward(const Tensor<Cuda>& x, float rate, uint64_t seed, uint32_t stream,
                                         uint32_t step) {
  return detail::apply_drop_connect_mask(
      "drop_connect_forward", x, cpu::detail::keep_probability("drop_connect_forward", rate), seed, stream, step);
}
inline Tensor<Cuda> drop_connect_backward(const Tensor<Cuda>& dy, float rate, uint64_t seed, uint32_t stream,
                                          uint32_t step) {
  return detail::apply_drop_connect_mask(
      "drop_connect_backward", dy, cpu::detail::keep_probability("drop_connect_backward", rate), seed, stream, step);
}

}  // namespace skinnet::cuda
