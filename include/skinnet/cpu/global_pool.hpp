#pragma once
// Global average pooling on the CPU: [N, H, W, C] -> [N, C] (the mean over H and W per sample and
// channel). The SE block's squeeze uses the same op.
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"

namespace skinnet::cpu {

// Per-sample work is independent and summed in a fixed order (double accumulators), so the result
// does not depend on the thread count.
inline Tensor<Cpu> global_avg_pool_forward(const Tensor<Cpu>& x) {
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, "global_avg_pool_forward: input ", x.shape().str(),
              " is not NHWC");
  const int64_t N = x.shape().n(), HW = x.shape().h() * x.shape().w(), C = x.shape().c();
  SKN_REQUIRE(HW > 0, ShapeError, "global_avg_pool_forward: input ", x.shape().str(), " has no pixels");
  Tensor<Cpu> y(Shape{N, C});
  const float* __restrict xp = x.data();
  float* __restrict yp = y.data();
  parallel_for(0, N, [&](int64_t n) {
    std::vector<double> acc(static_cast<size_t>(C), 0.0);
    double* __restrict a = acc.data();
    for (int64_t p = 0; p < HW; ++p) {
      const float* __restrict row = xp + (n * HW + p) * C;
SKN_OMP_SIMD
      for (int64_t c = 0; c < C; ++c) a[c] += row[c];
    }
    for (int64_t c = 0; c < C; ++c) yp[n * C + c] = static_cast<float>(a[c] / static_cast<double>(HW));
  });
  return y;
}

// dx[n, h, w, c] = dy[n, c] / (H * W). `input_shape` is the shape forward saw.
inline Tensor<Cpu> global_avg_pool_backward(const Tensor<Cpu>& dy, const Shape& input_shape) {
  SKN_REQUIRE(input_shape.rank() == 4, ShapeError, "global_avg_pool_backward: input shape ",
              input_shape.str(), " is not NHWC");
  const int64_t N = input_shape.n(), HW = input_shape.h() * input_shape.w(), C = input_shape.c();
  SKN_REQUIRE(dy.numel() == N * C, ShapeError, "global_avg_pool_backward: gradient ", dy.shape().str(),
              " does not match [", N, "x", C, "]");
  Tensor<Cpu> dx(input_shape);
  const float inv = 1.0f / static_cast<float>(HW);
  const float* __restrict gp = dy.data();
  float* __restrict dp = dx.data();
  parallel_for(0, N * HW, [&](int64_t r) {
    const float* __restrict g = gp + (r / HW) * C;
    float* __restrict d = dp + r * C;
SKN_OMP_SIMD
    for (int64_t c = 0; c < C; ++c) d[c] = g[c] * inv;
  }, 16);
  return dx;
}

}  // namespace skinnet::cpu
