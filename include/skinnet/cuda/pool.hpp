#pragma once
// Max and average pooling on the Cuda backend: host launchers for kernels/pool.cuh. Same functions,
// checks and semantics as include/skinnet/cpu/pool.hpp, with Tensor<Cuda>:
//   max_pool2d_forward(x, g) / max_pool2d_backward(x, dy, g)   (gradient to each window's first max)
//   avg_pool2d_forward(x, g) / avg_pool2d_backward(dy, g)      (padding not counted)
// One thread per output (forward) or input (backward) element; no atomics, so results are
// bit-identical from run to run. Launches are asynchronous on the default stream.
#include <cstdint>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cuda/conv2d.hpp"  // conv_detail::to_dims
#include "skinnet/cuda/device_memory.hpp"
// The runtime layer and the kernels last (see cuda/gemm.hpp for why).
#include "skinnet/cuda/runtime.hpp"
#include "kernels/pool.cuh"

namespace skinnet::cuda {

namespace pool_detail {

inline void check(const ConvGeometry& g, const Shape& x, const char* op, bool is_dy = false) {
  SKN_REQUIRE(g.out_c == g.in_c, ShapeError, op, ": pooling geometry needs out_c == in_c, got ", g.in_c, " -> ",
              g.out_c);
  // With padding smaller than the window every window holds at least one input pixel.
  SKN_REQUIRE(g.pad_top < g.k_h && g.pad_bottom < g.k_h && g.pad_left < g.k_w && g.pad_right < g.k_w,
              ValueError, op, ": padding (", g.pad_top, ",", g.pad_bottom, ",", g.pad_left, ",", g.pad_right,
              ") must be smaller than the ", g.k_h, "x", g.k_w, " window");
  const Shape want = is_dy ? g.out_shape() : g.in_shape();
  SKN_REQUIRE(x == want, ShapeError, op, ": ", is_dy ? "dy" : "x", " has shape ", x.str(), ", the geometry expects ",
              want.str());
}

inline dim3 grid_for(int64_t elements) {
  using kernels::kPoolThreads;
  return dim3(static_cast<unsigned>((elements + kPoolThreads - 1) / kPoolThreads));
}

}  // namespace pool_detail

inline Tensor<Cuda> max_pool2d_forward(const Tensor<Cuda>& x, const ConvGeometry& g) {
  constexpr const char* op = "cuda::max_pool2d_forward";
  pool_detail::check(g, x.shape(), op);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> y(g.out_shape());
  SKN_LAUNCH(kernels::max_pool_forward<float>, pool_detail::grid_for(y.numel()), dim3(kernels::kPoolThreads), 0, 0,
             d, x.data(), y.data());
  return y;
}

inline Tensor<Cuda> max_pool2d_backward(const Tensor<Cuda>& x, const Tensor<Cuda>& dy, const ConvGeometry& g) {
  constexpr const char* op = "cuda::max_pool2d_backward";
  pool_detail::check(g, x.shape(), op);
  pool_detail::check(g, dy.shape(), op, true);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> dx(g.in_shape());
  SKN_LAUNCH(kernels::max_pool_backward<float>, pool_detail::grid_for(dx.numel()), dim3(kernels::kPoolThreads), 0,
             0, d, x.data(), dy.data(), dx.data());
  return dx;
}

inline Tensor<Cuda> avg_pool2d_forward(const Tensor<Cuda>& x, const ConvGeometry& g) {
  constexpr const char* op = "cuda::avg_pool2d_forward";
  pool_detail::check(g, x.shape(), op);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> y(g.out_shape());
  SKN_LAUNCH(kernels::avg_pool_forward<float>, pool_detail::grid_for(y.numel()), dim3(kernels::kPoolThreads), 0, 0,
             d, x.data(), y.data());
  return y;
}

inline Tensor<Cuda> avg_pool2d_backward(const Tensor<Cuda>& dy, const ConvGeometry& g) {
  constexpr const char* op = "cuda::avg_pool2d_backward";
  pool_detail::check(g, dy.shape(), op, true);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> dx(g.in_shape());
  SKN_LAUNCH(kernels::avg_pool_backward<float>, pool_detail::grid_for(dx.numel()), dim3(kernels::kPoolThreads), 0,
             0, d, dy.data(), dx.data());
  return dx;
}

}  // namespace skinnet::cuda
