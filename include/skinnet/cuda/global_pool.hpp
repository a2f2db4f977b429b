#pragma once
// Global average pooling on the Cuda backend, [N, H, W, C] -> [N, C], with the signatures of
// include/skinnet/cpu/global_pool.hpp. Forward is a per-sample column mean (kernels/reduce.cuh: fixed
// summation order, double accumulators, like the CPU); backward broadcasts dy / (H W).
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/global_pool.hpp"
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/reduce.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/reduce.cuh"

namespace skinnet::cuda {

inline Tensor<Cuda> global_avg_pool_forward(const Tensor<Cuda>& x) {
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, "global_avg_pool_forward: input ", x.shape().str(),
              " is not NHWC");
  const int64_t N = x.shape().n(), HW = x.shape().h() * x.shape().w(), C = x.shape().c();
  SKN_REQUIRE(HW > 0, ShapeError, "global_avg_pool_forward: input ", x.shape().str(), " has no pixels");
  Tensor<Cuda> y(Shape{N, C});
  if (y.empty()) return y;
  detail::column_sums<kernels::SumOutput::Mean>("global_avg_pool_forward",
                                                kernels::ValueTerm{x.data(), static_cast<int>(C)}, N, HW, C,
                                                y.data());
  return y;
}

// dx[n, h, w, c] = dy[n, c] / (H * W). `input_shape` is the shape forward saw.
inline Tensor<Cuda> global_avg_pool_backward(const Tensor<Cuda>& dy, const Shape& input_shape) {
  SKN_REQUIRE(input_shape.rank() == 4, ShapeError, "global_avg_pool_backward: input shape ",
              input_shape.str(), " is not NHWC");
  const int64_t N = input_shape.n(), HW = input_shape.h() * input_shape.w(), C = input_shape.c();
  SKN_REQUIRE(dy.numel() == N * C, ShapeError, "global_avg_pool_backward: gradient ", dy.shape().str(),
              " does not match [", N, "x", C, "]");
  Tensor<Cuda> dx(input_shape);
  if (dx.empty()) return dx;
  const float inv = 1.0f / static_cast<float>(HW);
  SKN_LAUNCH(kernels::global_avg_pool_backward_kernel<kernels::kFinalizeThreads>, detail::elementwise_grid(dx.numel()),
             kernels::kFinalizeThreads, 0, 0, dy.data(), dx.data(), HW, static_cast<int>(C), inv, dx.numel());
  return dx;
}

}  // namespace skinnet::cuda
