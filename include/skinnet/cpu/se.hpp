#pragma once
// The memory-bound parts of the squeeze-and-excitation block on the CPU. The block itself
// (layers/se_block.hpp) is: s = mean_hw(x); g = sigmoid(act(s W1 + b1) W2 + b2); y = x * g.
// The squeeze is global_avg_pool_forward and the excitation is two small dense ops; what touches the
// big feature map is done here, each as one fused pass:
//   forward    y = x * g                                  (reads x, writes y)
//   backward   dg[n, c] = sum_hw dy * x                   (reads dy, x)
//              dx = dy * g + ds / (H W)                   (reads dy, writes dx)
// where ds is the gradient reaching the squeezed vector from the excitation path.
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/elementwise.hpp"

namespace skinnet::cpu {

namespace detail {
inline void check_gate(const char* op, const Tensor<Cpu>& x, const Tensor<Cpu>& g, const char* what) {
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, op, ": input ", x.shape().str(), " is not NHWC");
  SKN_REQUIRE(g.numel() == x.shape().n() * x.shape().c(), ShapeError, op, ": ", what, " ", g.shape().str(),
              " is not [N x C] = [", x.shape().n(), "x", x.shape().c(), "] for input ", x.shape().str());
}
}  // namespace detail

// y[n, h, w, c] = x[n, h, w, c] * gate[n, c]
inline Tensor<Cpu> se_scale_forward(const Tensor<Cpu>& x, const Tensor<Cpu>& gate) {
  detail::check_gate("se_scale_forward", x, gate, "gate");
  const int64_t HW = x.shape().h() * x.shape().w(), C = x.shape().c();
  Tensor<Cpu> y(x.shape());
  const float* __restrict xp = x.data();
  const float* __restrict gp = gate.data();
  float* __restrict yp = y.data();
  detail::for_each_row_block(x.shape().n() * HW, C, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict g = gp + (r / HW) * C;
      const float* __restrict xr = xp + r * C;
      float* __restrict yr = yp + r * C;
SKN_OMP_SIMD
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * g[c];
    }
  });
  return y;
}

// dgate[n, c] = sum over h, w of dy * x. Per sample, summed in pixel order (double accumulators).
inline Tensor<Cpu> se_gate_gradient(const Tensor<Cpu>& dy, const Tensor<Cpu>& x) {
  SKN_REQUIRE(dy.shape() == x.shape(), ShapeError, "se_gate_gradient: gradient ", dy.shape().str(),
              " does not match input ", x.shape().str());
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, "se_gate_gradient: input ", x.shape().str(), " is not NHWC");
  const int64_t N = x.shape().n(), HW = x.shape().h() * x.shape().w(), C = x.shape().c();
  Tensor<Cpu> dg(Shape{N, C});
  const float* __restrict xp = x.data();
  const float* __restrict gp = dy.data();
  float* __restrict dp = dg.data();
  parallel_for(0, N, [&](int64_t n) {
    std::vector<double> acc(static_cast<size_t>(C), 0.0);
    double* __restrict a = acc.data();
    for (int64_t p = 0; p < HW; ++p) {
      const int64_t off = (n * HW + p) * C;
SKN_OMP_SIMD
      for (int64_t c = 0; c < C; ++c) a[c] += static_cast<double>(gp[off + c]) * xp[off + c];
    }
    for (int64_t c = 0; c < C; ++c) dp[n * C + c] = static_cast<float>(a[c]);
  });
  return dg;
}

// dx = dy * gate[n, c] + dsqueeze[n, c] / (H W)
inline Tensor<Cpu> se_input_gradient(const Tensor<Cpu>& dy, const Tensor<Cpu>& gate, const Tensor<Cpu>& dsqueeze) {
  detail::check_gate("se_input_gradient", dy, gate, "gate");
  detail::check_gate("se_input_gradient", dy, dsqueeze, "squeeze gradient");
  const int64_t HW = dy.shape().h() * dy.shape().w(), C = dy.shape().c();
  const float inv = 1.0f / static_cast<float>(HW);
  Tensor<Cpu> dx(dy.shape());
  const float* __restrict gp = dy.data();
  const float* __restrict sp = gate.data();
  const float* __restrict qp = dsqueeze.data();
  float* __restrict dp = dx.data();
  detail::for_each_row_block(dy.shape().n() * HW, C, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict s = sp + (r / HW) * C;
      const float* __restrict q = qp + (r / HW) * C;
      const float* __restrict gr = gp + r * C;
      float* __restrict dr = dp + r * C;
SKN_OMP_SIMD
      for (int64_t c = 0; c < C; ++c) dr[c] = gr[c] * s[c] + q[c] * inv;
    }
  });
  return dx;
}

}  // namespace skinnet::cpu
