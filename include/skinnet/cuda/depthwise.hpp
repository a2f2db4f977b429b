#pragma once
// Depthwise 2-D convolution on the Cuda backend (channel multiplier 1): host launchers for
// kernels/depthwise.cuh. Same functions and contract as include/skinnet/cpu/depthwise.hpp, with
// Tensor<Cuda>:
//   depthwise_conv2d_forward          returns y; bias may be nullptr.
//   depthwise_conv2d_backward_input   returns dx.
//   depthwise_conv2d_backward_params  ADDS dL/dw into dw (and dL/dbias into *dbias when not null).
//   depthwise_conv2d_backward         both gradients: returns dx and adds like backward_params.
// The weight and bias gradients are one split reduction in a fixed order (no atomics), so results are
// bit-identical from run to run. Launches are asynchronous on the default stream.
#include <algorithm>
#include <cstdint>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cuda/conv2d.hpp"  // conv_detail: to_dims, plan_splits, add_split_sums
#include "skinnet/cuda/device_memory.hpp"
// The runtime layer and the kernels last (see cuda/gemm.hpp for why).
#include "skinnet/cuda/runtime.hpp"
#include "kernels/depthwise.cuh"

namespace skinnet::cuda {

namespace depthwise_detail {

inline void check_shapes(const ConvGeometry& g, const Shape& w, const char* op) {
  SKN_REQUIRE(g.out_c == g.in_c, ShapeError, op, ": depthwise geometry needs out_c == in_c (multiplier 1), got ",
              g.in_c, " -> ", g.out_c);
  SKN_REQUIRE(w == Shape({g.k_h, g.k_w, g.in_c}), ShapeError, op, ": weight has shape ", w.str(), ", expected [",
              g.k_h, "x", g.k_w, "x", g.in_c, "]");
}

inline void check_backward(const ConvGeometry& g, const Tensor<Cuda>& x, const Tensor<Cuda>& dy,
                           const Tensor<Cuda>& dw, const Tensor<Cuda>* dbias, const char* op) {
  check_shapes(g, dw.shape(), op);
  SKN_REQUIRE(x.shape() == g.in_shape() && dy.shape() == g.out_shape(), ShapeError, op, ": x ", x.shape().str(),
              " and dy ", dy.shape().str(), " do not match the geometry ", g.in_shape().str(), " -> ",
              g.out_shape().str());
  if (dbias)
    SKN_REQUIRE(dbias->shape() == Shape{g.in_c}, ShapeError, op, ": dbias has shape ", dbias->shape().str(),
                ", expected [", g.in_c, "]");
}

inline dim3 elementwise_grid(int64_t elements) {
  using kernels::kDepthwiseThreads;
  return dim3(static_cast<unsigned>((elements + kDepthwiseThreads - 1) / kDepthwiseThreads));
}

// The kernel specialised for the square kernel sizes of the target networks (3x3, 5x5, 7x7: tap loops
// unrolled at compile time), or the generic one.
template <template <int> class Pick>
auto pick_kernel(const ConvGeometry& g) {
  if (g.k_h == g.k_w) {
    if (g.k_h == 3) return Pick<3>::get();
    if (g.k_h == 5) return Pick<5>::get();
    if (g.k_h == 7) return Pick<7>::get();
  }
  return Pick<0>::get();
}
template <int K>
struct PickForward {
  static auto get() { return &kernels::depthwise_forward<K>; }
};
template <int K>
struct PickBackwardInput {
  static auto get() { return &kernels::depthwise_backward_input<K>; }
};

}  // namespace depthwise_detail

inline Tensor<Cuda> depthwise_conv2d_forward(const Tensor<Cuda>& x, const Tensor<Cuda>& w, const Tensor<Cuda>* bias,
                                             const ConvGeometry& g) {
  constexpr const char* op = "cuda::depthwise_conv2d_forward";
  depthwise_detail::check_shapes(g, w.shape(), op);
  SKN_REQUIRE(x.shape() == g.in_shape(), ShapeError, op, ": x has shape ", x.shape().str(), ", the geometry expects ",
              g.in_shape().str());
  if (bias)
    SKN_REQUIRE(bias->shape() == Shape{g.in_c}, ShapeError, op, ": bias has shape ", bias->shape().str(),
                ", expected [", g.in_c, "]");
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> y(g.out_shape());
  auto* kernel = depthwise_detail::pick_kernel<depthwise_detail::PickForward>(g);
  SKN_LAUNCH(kernel, depthwise_detail::elementwise_grid(y.numel()), dim3(kernels::kDepthwiseThreads), 0, 0, d,
             x.data(), w.data(), bias ? bias->data() : nullptr, y.data());
  return y;
}

inline Tensor<Cuda> depthwise_conv2d_backward_input(const Tensor<Cuda>& dy, const Tensor<Cuda>& w,
                                                    const ConvGeometry& g) {
  constexpr const char* op = "cuda::depthwise_conv2d_backward_input";
  depthwise_detail::check_shapes(g, w.shape(), op);
  SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, op, ": dy has shape ", dy.shape().str(),
              ", the geometry expects ", g.out_shape().str());
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> dx(g.in_shape());
  auto* kernel = depthwise_detail::pick_kernel<depthwise_detail::PickBackwardInput>(g);
  SKN_LAUNCH(kernel, depthwise_detail::elementwise_grid(dx.numel()), dim3(kernels::kDepthwiseThreads), 0, 0, d,
             dy.data(), w.data(), dx.data());
  return dx;
}

inline void depthwise_conv2d_backward_params(const Tensor<Cuda>& x, const Tensor<Cuda>& dy, const ConvGeometry& g,
                                             Tensor<Cuda>& dw, Tensor<Cuda>* dbias) {
  using kernels::kDepthwiseGradChannels;
  using kernels::kDepthwiseGradLanes;
  constexpr const char* op = "cuda::depthwise_conv2d_backward_params";
  depthwise_detail::check_backward(g, x, dy, dw, dbias, op);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  const int64_t C = g.in_c, kernel_taps = g.k_h * g.k_w;
  const int64_t taps = kernel_taps + (dbias ? 1 : 0);  // the bias gradient is one more "tap"
  const int64_t groups = (C + kDepthwiseGradChannels - 1) / kDepthwiseGradChannels;
  const conv_detail::SplitPlan plan = conv_detail::plan_splits(g.out_pixels(), groups * taps, 1);
  Tensor<Cuda> partial(Shape{plan.splits * taps * C});
  const dim3 grid(static_cast<unsigned>(groups * taps), static_cast<unsigned>(plan.splits));
  SKN_LAUNCH(kernels::depthwise_weight_grad<float>, grid, dim3(kDepthwiseGradChannels, kDepthwiseGradLanes), 0, 0,
             d, x.data(), dy.data(), static_cast<int>(taps), plan.chunk, partial.data());
  conv_detail::add_split_sums(partial.data(), plan.splits, taps * C, kernel_taps * C, dw.data(), 0);
  if (dbias) conv_detail::add_split_sums(partial.data() + kernel_taps * C, plan.splits, taps * C, C, dbias->data(), 0);
}

// Both gradients. On the GPU the two passes are independent kernels (the input-gradient gather and the
// weight-gradient reduction parallelise over different indices), so this is backward_params followed
// by backward_input, bit-identical to calling them separately; it exists so that layers call one op
// on either backend (the CPU version fuses the two loops to read dy once).
inline Tensor<Cuda> depthwise_conv2d_backward(const Tensor<Cuda>& x, const Tensor<Cuda>& dy, const Tensor<Cuda>& w,
                                              const ConvGeometry& g, Tensor<Cuda>& dw, Tensor<Cuda>* dbias) {
  constexpr const char* op = "cuda::depthwise_conv2d_backward";
  depthwise_detail::check_backward(g, x, dy, dw, dbias, op);
  depthwise_detail::check_shapes(g, w.shape(), op);
  depthwise_conv2d_backward_params(x, dy, g, dw, dbias);
  return depthwise_conv2d_backward_input(dy, w, g);
}

}  // namespace skinnet::cuda
