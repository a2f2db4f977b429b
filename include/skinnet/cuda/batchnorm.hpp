#pragma once
// Batch normalisation on the Cuda backend (kernels/batchnorm.cuh), NHWC, per channel, with an
// optional fused activation; the signatures and conventions of include/skinnet/cpu/batchnorm.hpp:
//   * x is M = numel / C rows of C channels (C = last dimension);
//   * training normalises with the batch mean and the biased batch variance, running_var is updated
//     with the unbiased one; running = (1 - momentum) * running + momentum * batch (PyTorch momentum);
//   * training forward keeps nothing big: backward takes the forward's input x and recomputes the
//     normalised input from batch_mean and batch_invstd (1 / sqrt(var + eps)).
// Reductions are deterministic (kernels/reduce.cuh), so two runs give identical bits.
#include <cstdint>

#include "kernels/batchnorm.cuh"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/batchnorm.hpp"  // (the CPU twin; shares Act)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/reduce.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

namespace detail {
inline int64_t bn_channels(const char* op, const Tensor<Cuda>& x) {
  SKN_REQUIRE(!x.empty(), ShapeError, op, ": empty input");
  const int64_t C = x.shape()[x.shape().rank() - 1];
  SKN_REQUIRE(C <= (int64_t{1} << 24), ValueError, op, ": ", C, " channels are outside the kernels' range");
  return C;
}
inline void bn_check_channel_vector(const char* op, const char* what, const Tensor<Cuda>& t, int64_t C) {
  SKN_REQUIRE(t.numel() == C, ShapeError, op, ": ", what, " has ", t.numel(), " elements (shape ", t.shape().str(),
              ") but the input has ", C, " channels");
}
}  // namespace detail

// Training forward. Writes y (same shape as x), batch_mean and batch_invstd ([C]), and updates
// running_mean / running_var in place. Output tensors are (re)allocated as needed.
inline void batchnorm_forward_train(const Tensor<Cuda>& x, const Tensor<Cuda>& gamma, const Tensor<Cuda>& beta,
                                    Tensor<Cuda>& running_mean, Tensor<Cuda>& running_var, float momentum, float eps,
                                    Act act, Tensor<Cuda>& y, Tensor<Cuda>& batch_mean, Tensor<Cuda>& batch_invstd) {
  const char* op = "batchnorm_forward_train";
  const int64_t C = detail::bn_channels(op, x);
  const int64_t M = x.numel() / C;
  detail::bn_check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::bn_check_channel_vector(op, "bias (beta)", beta, C);
  detail::bn_check_channel_vector(op, "running_mean", running_mean, C);
  detail::bn_check_channel_vector(op, "running_var", running_var, C);
  SKN_REQUIRE(M > 1, ValueError, op, ": training needs more than one value per channel, input ", x.shape().str());
  detail::ensure_shape(y, x.shape());
  detail::ensure_shape(batch_mean, Shape{C});
  detail::ensure_shape(batch_invstd, Shape{C});

  const int c32 = static_cast<int>(C);
  detail::DeviceScratch<kernels::Sum2> partial(detail::reduce_chunks(M) * C);
  detail::DeviceScratch<float> affine(2 * C);
  const int chunks =
      detail::launch_column_partial_sums(op, kernels::BnStatsTerm{x.data(), c32}, 1, M, C, partial.get());
  SKN_LAUNCH(kernels::bn_finalize_stats<kernels::kFinalizeThreads>, detail::finalize_grid(C), kernels::kFinalizeThreads,
             0, 0, partial.get(), chunks, c32, M, momentum, eps, running_mean.data(), running_var.data(),
             batch_mean.data(), batch_invstd.data(), affine.get());
  act::dispatch(act, [&]<Act A>() {
    SKN_LAUNCH(kernels::bn_forward_train<A>, detail::elementwise_grid(x.numel()), kernels::kElementwiseThreads, 0, 0,
               x.data(), affine.get(), gamma.data(), beta.data(), y.data(), c32, x.numel());
  });
}

// Inference forward with the running statistics: y = act(x * s + t), s = gamma / sqrt(var + eps),
// t = beta - mean * s. Caches nothing.
inline Tensor<Cuda> batchnorm_forward_infer(const Tensor<Cuda>& x, const Tensor<Cuda>& gamma, const Tensor<Cuda>& beta,
                                            const Tensor<Cuda>& running_mean, const Tensor<Cuda>& running_var,
                                            float eps, Act act) {
  const char* op = "batchnorm_forward_infer";
  const int64_t C = detail::bn_channels(op, x);
  detail::bn_check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::bn_check_channel_vector(op, "bias (beta)", beta, C);
  detail::bn_check_channel_vector(op, "running_mean", running_mean, C);
  detail::bn_check_channel_vector(op, "running_var", running_var, C);
  const int c32 = static_cast<int>(C);
  detail::DeviceScratch<float> affine(2 * C);
  SKN_LAUNCH(kernels::bn_infer_coefficients<kernels::kFinalizeThreads>, detail::finalize_grid(C),
             kernels::kFinalizeThreads, 0, 0, gamma.data(), beta.data(), running_mean.data(), running_var.data(), eps,
             c32, affine.get());
  Tensor<Cuda> y(x.shape());
  act::dispatch(act, [&]<Act A>() {
    SKN_LAUNCH(kernels::bn_affine_act<A>, detail::elementwise_grid(x.numel()), kernels::kElementwiseThreads, 0, 0,
               x.data(), affine.get(), y.data(), c32, x.numel());
  });
  return y;
}

// Training backward from the forward's input x and its batch_mean / batch_invstd. Writes dx
// (reallocated as needed); ADDS into dgamma and dbeta.
inline void batchnorm_backward(const Tensor<Cuda>& dy, const Tensor<Cuda>& x, const Tensor<Cuda>& gamma,
                               const Tensor<Cuda>& beta, const Tensor<Cuda>& batch_mean,
                               const Tensor<Cuda>& batch_invstd, Act act, Tensor<Cuda>& dgamma, Tensor<Cuda>& dbeta,
                               Tensor<Cuda>& dx) {
  const char* op = "batchnorm_backward";
  SKN_REQUIRE(dy.shape() == x.shape(), ShapeError, op, ": gradient ", dy.shape().str(),
              " does not match the saved input ", x.shape().str());
  const int64_t C = detail::bn_channels(op, x);
  const int64_t M = x.numel() / C;
  detail::bn_check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::bn_check_channel_vector(op, "bias (beta)", beta, C);
  detail::bn_check_channel_vector(op, "batch_mean", batch_mean, C);
  detail::bn_check_channel_vector(op, "batch_invstd", batch_invstd, C);
  detail::bn_check_channel_vector(op, "dgamma", dgamma, C);
  detail::bn_check_channel_vector(op, "dbeta", dbeta, C);
  detail::ensure_shape(dx, x.shape());

  const int c32 = static_cast<int>(C);
  detail::DeviceScratch<kernels::Sum2> partial(detail::reduce_chunks(M) * C);
  detail::DeviceScratch<float> coef(3 * C);
  detail::DeviceScratch<float> affine(2 * C);
  SKN_LAUNCH(kernels::bn_saved_affine<kernels::kFinalizeThreads>, detail::finalize_grid(C), kernels::kFinalizeThreads,
             0, 0, batch_mean.data(), batch_invstd.data(), c32, affine.get());
  act::dispatch(act, [&]<Act A>() {
    const kernels::BnBackwardTerm<A> term{dy.data(), x.data(), affine.get(), gamma.data(), beta.data(), c32};
    const int chunks = detail::launch_column_partial_sums(op, term, 1, M, C, partial.get());
    SKN_LAUNCH(kernels::bn_finalize_backward<kernels::kFinalizeThreads>, detail::finalize_grid(C),
               kernels::kFinalizeThreads, 0, 0, partial.get(), chunks, c32, M, gamma.data(), batch_invstd.data(),
               dgamma.data(), dbeta.data(), coef.get());
    SKN_LAUNCH(kernels::bn_backward_dx<A>, detail::elementwise_grid(x.numel()), kernels::kElementwiseThreads, 0, 0,
               dy.data(), x.data(), affine.get(), gamma.data(), beta.data(), coef.get(), dx.data(), c32, x.numel());
  });
}

// Same, returning a new dx.
inline Tensor<Cuda> batchnorm_backward(const Tensor<Cuda>& dy, const Tensor<Cuda>& x, const Tensor<Cuda>& gamma,
                                       const Tensor<Cuda>& beta, const Tensor<Cuda>& batch_mean,
                                       const Tensor<Cuda>& batch_invstd, Act act, Tensor<Cuda>& dgamma,
                                       Tensor<Cuda>& dbeta) {
  Tensor<Cuda> dx;
  batchnorm_backward(dy, x, gamma, beta, batch_mean, batch_invstd, act, dgamma, dbeta, dx);
  return dx;
}

}  // namespace skinnet::cuda
