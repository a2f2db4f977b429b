#pragma once
// Pointwise activations on the Cuda backend (kernels/activation.cuh), with the signatures of
// include/skinnet/cpu/activation.hpp. `Act` and the scalar formulas are shared with the CPU.
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/activation.cuh"

namespace skinnet::cuda {

// y = act(x), any shape.
inline Tensor<Cuda> activation_forward(Act a, const Tensor<Cuda>& x) {
  Tensor<Cuda> y(x.shape());
  const int64_t n = x.numel();
  if (n == 0) return y;
  act::dispatch(a, [&]<Act A>() {
    SKN_LAUNCH(kernels::act_forward_kernel<A>, detail::elementwise_grid(n), kernels::kElementwiseThreads, 0, 0,
               x.data(), y.data(), n);
  });
  return y;
}

// dx = dy * act'(x), where x is the input the forward pass saw.
inline Tensor<Cuda> activation_backward(Act a, const Tensor<Cuda>& x, const Tensor<Cuda>& dy) {
  SKN_REQUIRE(x.shape() == dy.shape(), ShapeError, "activation_backward(", act_name(a), "): input ",
              x.shape().str(), " and gradient ", dy.shape().str(), " differ");
  Tensor<Cuda> dx(x.shape());
  const int64_t n = x.numel();
  if (n == 0) return dx;
  act::dispatch(a, [&]<Act A>() {
    SKN_LAUNCH(kernels::act_backward_kernel<A>, detail::elementwise_grid(n), kernels::kElementwiseThreads, 0, 0,
               x.data(), dy.data(), dx.data(), n);
  });
  return dx;
}

}  // namespace skinnet::cuda
