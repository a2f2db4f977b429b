#pragma once
// The memory-bound parts of the squeeze-and-excitation block on the Cuda backend (kernels/se.cuh,
// kernels/reduce.cuh), with the signatures of include/skinnet/cpu/se.hpp:
//   forward    y = x * g
//   backward   dg[n, c] = sum_hw dy * x            (deterministic per-sample column sum, double)
//              dx = dy * g + ds / (H W)
#include <cstdint>

#include "kernels/reduce.cuh"
#include "kernels/se.cuh"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/se.hpp"  // (the CPU twin)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/reduce.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

namespace detail {
inline void check_gate(const char* op, const Tensor<Cuda>& x, const Tensor<Cuda>& g, const char* what) {
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, op, ": input ", x.shape().str(), " is not NHWC");
  SKN_REQUIRE(g.numel() == x.shape().n() * x.shape().c(), ShapeError, op, ": ", what, " ", g.shape().str(),
              " is not [N x C] = [", x.shape().n(), "x", x.shape().c(), "] for input ", x.shape().str());
}
}  // namespace detail

// y[n, h, w, c] = x[n, h, w, c] * gate[n, c]
inline Tensor<Cuda> se_scale_forward(const Tensor<Cuda>& x, const Tensor<Cuda>& gate) {
  detail::check_gate("se_scale_forward", x, gate, "gate");
  Tensor<Cuda> y(x.shape());
  if (y.empty()) return y;
  const int64_t HW = x.shape().h() * x.shape().w();
  SKN_LAUNCH(kernels::se_scale_kernel<kernels::kElementwiseThreads>, detail::elementwise_grid(x.numel()),
             kernels::kElementwiseThreads, 0, 0, x.data(), gate.data(), y.data(), HW, static_cast<int>(x.shape().c()),
             x.numel());
  return y;
}

// dgate[n, c] = sum over h, w of dy * x, per sample in a fixed order (double accumulators).
inline Tensor<Cuda> se_gate_gradient(const Tensor<Cuda>& dy, const Tensor<Cuda>& x) {
  SKN_REQUIRE(dy.shape() == x.shape(), ShapeError, "se_gate_gradient: gradient ", dy.shape().str(),
              " does not match input ", x.shape().str());
  SKN_REQUIRE(x.shape().rank() == 4, ShapeError, "se_gate_gradient: input ", x.shape().str(), " is not NHWC");
  const int64_t N = x.shape().n(), HW = x.shape().h() * x.shape().w(), C = x.shape().c();
  Tensor<Cuda> dg(Shape{N, C});
  if (dg.empty()) return dg;
  detail::column_sums<kernels::SumOutput::Store>(
      "se_gate_gradient", kernels::ProductTerm{dy.data(), x.data(), static_cast<int>(C)}, N, HW, C, dg.data());
  return dg;
}

// dx = dy * gate[n, c] + dsqueeze[n, c] / (H W)
inline Tensor<Cuda> se_input_gradient(const Tensor<Cuda>& dy, const Tensor<Cuda>& gate, const Tensor<Cuda>& dsqueeze) {
  detail::check_gate("se_input_gradient", dy, gate, "gate");
  detail::check_gate("se_input_gradient", dy, dsqueeze, "squeeze gradient");
  Tensor<Cuda> dx(dy.shape());
  if (dx.empty()) return dx;
  const int64_t HW = dy.shape().h() * dy.shape().w();
  const float inv = 1.0f / static_cast<float>(HW);
  SKN_LAUNCH(kernels::se_input_gradient_kernel<kernels::kElementwiseThreads>, detail::elementwise_grid(dy.numel()),
             kernels::kElementwiseThreads, 0, 0, dy.data(), gate.data(), dsqueeze.data(), dx.data(), HW,
             static_cast<int>(dy.shape().c()), inv, dy.numel());
  return dx;
}

}  // namespace skinnet::cuda
