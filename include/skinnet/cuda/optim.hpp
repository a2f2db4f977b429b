#pragma once
// Optimizer update ops on the Cuda backend (kernels/optim.cuh), with the signatures of
// include/skinnet/cpu/optim.hpp, so train/sgd.hpp, adam.hpp, adamw.hpp and clip.hpp work on Cuda
// parameters through argument-dependent lookup.
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/optim.hpp"  // SgdStep, AdamStep (shared by both backends)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/optim.cuh"

namespace skinnet::cuda {

namespace detail {
inline void optim_require_same_shape(const char* op, const Tensor<Cuda>& a, const char* an, const Tensor<Cuda>& b,
                                     const char* bn) {
  SKN_REQUIRE(a.shape() == b.shape(), ShapeError, op, ": ", an, " ", a.shape().str(), " and ", bn, " ",
              b.shape().str(), " differ");
}
}  // namespace detail

// w -= lr * direction (gradient plus L2, through the momentum buffer). `buf` is neither read nor
// written when momentum == 0 and may then be an empty tensor.
inline void sgd_update(Tensor<Cuda>& w, const Tensor<Cuda>& g, Tensor<Cuda>& buf, const SgdStep& s) {
  detail::optim_require_same_shape("sgd_update", w, "weight", g, "gradient");
  if (s.momentum != 0.f) detail::optim_require_same_shape("sgd_update", w, "weight", buf, "momentum buffer");
  const int64_t n = w.numel();
  if (n == 0) return;
  constexpr int T = kernels::kElementwiseThreads;
  const dim3 grid = detail::elementwise_grid(n);
  float* b = s.momentum != 0.f ? buf.data() : nullptr;
  if (s.momentum == 0.f)
    SKN_LAUNCH((kernels::sgd_update_kernel<T, false, false, false>), grid, T, 0, 0, w.data(), g.data(), b, n, s);
  else if (s.first_step && s.nesterov)
    SKN_LAUNCH((kernels::sgd_update_kernel<T, true, true, true>), grid, T, 0, 0, w.data(), g.data(), b, n, s);
  else if (s.first_step)
    SKN_LAUNCH((kernels::sgd_update_kernel<T, true, false, true>), grid, T, 0, 0, w.data(), g.data(), b, n, s);
  else if (s.nesterov)
    SKN_LAUNCH((kernels::sgd_update_kernel<T, true, true, false>), grid, T, 0, 0, w.data(), g.data(), b, n, s);
  else
    SKN_LAUNCH((kernels::sgd_update_kernel<T, true, false, false>), grid, T, 0, 0, w.data(), g.data(), b, n, s);
}

// Adam / AdamW for one tensor: m and v are the first and second moment estimates (same shape as w).
inline void adam_update(Tensor<Cuda>& w, const Tensor<Cuda>& g, Tensor<Cuda>& m, Tensor<Cuda>& v,
                        const AdamStep& s) {
  detail::optim_require_same_shape("adam_update", w, "weight", g, "gradient");
  detail::optim_require_same_shape("adam_update", w, "weight", m, "first moment");
  detail::optim_require_same_shape("adam_update", w, "weight", v, "second moment");
  const int64_t n = w.numel();
  if (n == 0) return;
  SKN_LAUNCH(kernels::adam_update_kernel<kernels::kElementwiseThreads>, detail::elementwise_grid(n),
             kernels::kElementwiseThreads, 0, 0, w.data(), g.data(), m.data(), v.data(), n, s);
}

// Sum of the squares of g's elements, in double (for the global gradient norm). Deterministic: fixed
// per-block chunks, partials added on the host in index order. Synchronises with the device.
inline double grad_sum_squares(const Tensor<Cuda>& g) {
  const int64_t n = g.numel();
  if (n == 0) return 0.0;
  const int64_t blocks = (n + kernels::kSumSquaresChunk - 1) / kernels::kSumSquaresChunk;
  SKN_REQUIRE(blocks <= int64_t{1} << 31, ValueError, "grad_sum_squares: ", n, " elements are too many");
  detail::DeviceScratch<double> partial(blocks);
  SKN_LAUNCH(kernels::grad_sum_squares_partials<kernels::kElementwiseThreads>, dim3(static_cast<unsigned>(blocks)),
             kernels::kElementwiseThreads, 0, 0, g.data(), n, partial.get());
  std::vector<double> host(static_cast<size_t>(blocks));
  SKN_CUDA_CHECK(cudaMemcpy(host.data(), partial.get(), host.size() * sizeof(double), cudaMemcpyDeviceToHost));
  double total = 0.0;
  for (double x : host) total += x;
  return total;
}

// g *= factor (gradient clipping).
inline void grad_scale(Tensor<Cuda>& g, float factor) {
  const int64_t n = g.numel();
  if (n == 0) return;
  SKN_LAUNCH(kernels::grad_scale_kernel<kernels::kElementwiseThreads>, detail::elementwise_grid(n),
             kernels::kElementwiseThreads, 0, 0, g.data(), n, factor);
}

}  // namespace skinnet::cuda
