#pragma once
// BatchNorm kernels (training forward with batch statistics, running-average update, inference
// forward, backward), each with the activation that follows BN fused in. Host launchers:
// include/skinnet/cuda/batchnorm.hpp, which documents the conventions (they are the CPU's,
// include/skinnet/cpu/batchnorm.hpp: biased variance to normalise, unbiased for running_var,
// PyTorch momentum).
//
// x is M rows of C channels (NHWC with M = N*H*W, or [N, C]). BN is memory-bound, so each phase is a
// fixed number of passes over the big tensors, the same passes as the CPU backend:
//   training forward  1. column sums of x and x^2            (column_partial_sums, kernels/reduce.cuh)
//                     2. bn_finalize_stats: one thread per channel adds the chunks in order, computes
//                        mean, invstd, updates running_mean / running_var, and writes the per-channel
//                        affine map xhat = x * scale + shift
//                     3. bn_forward_train: y = act(gamma * xhat + beta), elementwise
//   backward          0. bn_saved_affine: the same affine map again, from the saved mean and invstd
//                        (the layer keeps x itself, not xhat: one tensor write fewer per forward)
//                     1. column sums of dz and dz * xhat, dz = dy * act'(gamma * xhat + beta)
//                     2. bn_finalize_backward: dbeta += sum dz, dgamma += sum dz*xhat, coefficients
//                     3. bn_backward_dx: dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz*xhat))
//   inference         1. bn_infer_coefficients: scale = gamma / sqrt(var + eps), shift = beta - mean*scale
//                     2. bn_affine_act: y = act(x * scale + shift)
// The reductions are deterministic (fixed chunking, double accumulators, chunks added in index
// order); no float atomics anywhere. Per-channel coefficients are tiny arrays read through the
// read-only cache, so the elementwise passes stream x / dy at full bandwidth.
#include <cstdint>

#include "skinnet/cpu/activation.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"

namespace skinnet::cuda::kernels {

// ---- training forward ---------------------------------------------------------------------------

// Summands of the batch statistics: (x, x^2) in double.
struct BnStatsTerm {
  const float* __restrict__ x;
  int C;
  __device__ __forceinline__ Sum2 operator()(int64_t row, int c) const {
    const double v = x[row * C + c];
    return Sum2{v, v * v};
  }
};

// One thread per channel (grid ceil(C / 256), 256 threads). affine[c] = scale, affine[C + c] = shift.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    bn_finalize_stats(const Sum2* __restrict__ partial, int chunks, int C, int64_t M, float momentum, float eps,
                      float* __restrict__ running_mean, float* __restrict__ running_var,
                      float* __restrict__ batch_mean, float* __restrict__ batch_invstd, float* __restrict__ affine) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  const Sum2 s = combine_chunks(partial, chunks, C, 0, c);
  const double m = static_cast<double>(M);
  const double mean = s.a / m;
  // E[x^2] - E[x]^2 in double: exact enough unless |mean| / std exceeds ~1e6 (as on the CPU).
  const double var = fmax(0.0, s.b / m - mean * mean);
  const double unbiased = var * m / (m - 1.0);
  const float invstd = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  batch_mean[c] = static_cast<float>(mean);
  batch_invstd[c] = invstd;
  running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * static_cast<float>(mean);
  running_var[c] = (1.0f - momentum) * running_var[c] + momentum * static_cast<float>(unbiased);
  affine[c] = invstd;
  affine[C + c] = -static_cast<float>(mean) * invstd;
}

// xhat = x * scale + shift, the one expression every kernel here uses (so backward recomputes
// exactly the values forward normalised with).
__device__ __forceinline__ float bn_xhat(const float* __restrict__ x, const float* __restrict__ affine, int64_t i,
                                         int c, int C) {
  return x[i] * __ldg(affine + c) + __ldg(affine + C + c);
}

// y = act(gamma * xhat + beta). Grid-stride over the M * C elements.
template <Act A>
__global__ void __launch_bounds__(kElementwiseThreads)
    bn_forward_train(const float* __restrict__ x, const float* __restrict__ affine, const float* __restrict__ gamma,
                     const float* __restrict__ beta, float* __restrict__ y, int C, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const int c = static_cast<int>(i % C);
    const float h = bn_xhat(x, affine, i, c, C);
    y[i] = act::forward<A>(__ldg(gamma + c) * h + __ldg(beta + c));
  }
}

// ---- inference forward --------------------------------------------------------------------------

// One thread per channel: the running statistics folded into one affine map (computed in double).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    bn_infer_coefficients(const float* __restrict__ gamma, const float* __restrict__ beta,
                          const float* __restrict__ running_mean, const float* __restrict__ running_var, float eps,
                          int C, float* __restrict__ affine) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  const double s = gamma[c] / sqrt(static_cast<double>(running_var[c]) + eps);
  affine[c] = static_cast<float>(s);
  affine[C + c] = static_cast<float>(beta[c] - running_mean[c] * s);
}

// y = act(x * scale + shift)
template <Act A>
__global__ void __launch_bounds__(kElementwiseThreads)
    bn_affine_act(const float* __restrict__ x, const float* __restrict__ affine, float* __restrict__ y, int C,
                  int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const int c = static_cast<int>(i % C);
    y[i] = act::forward<A>(x[i] * __ldg(affine + c) + __ldg(affine + C + c));
  }
}

// ---- backward -----------------------------------------------------------------------------------

// One thread per channel: the forward's affine map from the saved statistics (bn_finalize_stats
// computes the same two floats).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    bn_saved_affine(const float* __restrict__ batch_mean, const float* __restrict__ batch_invstd, int C,
                    float* __restrict__ affine) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  const float invstd = batch_invstd[c];
  affine[c] = invstd;
  affine[C + c] = -batch_mean[c] * invstd;
}

// dz = dy * act'(gamma * xhat + beta), the gradient at BN's output before the activation.
template <Act A>
__device__ __forceinline__ float bn_dz(float dy, float h, float g, float b) {
  if constexpr (A == Act::None) {
    return dy;
  } else {
    return dy * act::derivative<A>(g * h + b);
  }
}

// Summands of the backward reductions: (dz, dz * xhat).
template <Act A>
struct BnBackwardTerm {
  const float* __restrict__ dy;
  const float* __restrict__ x;
  const float* __restrict__ affine;
  const float* __restrict__ gamma;
  const float* __restrict__ beta;
  int C;
  __device__ __forceinline__ Sum2 operator()(int64_t row, int c) const {
    const int64_t i = row * C + c;
    const float h = bn_xhat(x, affine, i, c, C);
    const float dz = bn_dz<A>(dy[i], h, __ldg(gamma + c), __ldg(beta + c));
    return Sum2{dz, static_cast<double>(dz) * h};
  }
};

// One thread per channel. Accumulates the parameter gradients and writes coef[c] = gamma * invstd,
// coef[C + c] = mean(dz), coef[2C + c] = mean(dz * xhat).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    bn_finalize_backward(const Sum2* __restrict__ partial, int chunks, int C, int64_t M,
                         const float* __restrict__ gamma, const float* __restrict__ batch_invstd,
                         float* __restrict__ dgamma, float* __restrict__ dbeta, float* __restrict__ coef) {
  const int c = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (c >= C) return;
  const Sum2 s = combine_chunks(partial, chunks, C, 0, c);
  dbeta[c] += static_cast<float>(s.a);
  dgamma[c] += static_cast<float>(s.b);
  coef[c] = gamma[c] * batch_invstd[c];
  coef[C + c] = static_cast<float>(s.a / static_cast<double>(M));
  coef[2 * C + c] = static_cast<float>(s.b / static_cast<double>(M));
}

// dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz * xhat))
template <Act A>
__global__ void __launch_bounds__(kElementwiseThreads)
    bn_backward_dx(const float* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ affine,
                   const float* __restrict__ gamma, const float* __restrict__ beta, const float* __restrict__ coef,
                   float* __restrict__ dx, int C, int64_t n) {
  for (int64_t i = grid_stride_begin(); i < n; i += grid_stride_step()) {
    const int c = static_cast<int>(i % C);
    const float h = bn_xhat(x, affine, i, c, C);
    const float dz = bn_dz<A>(dy[i], h, __ldg(gamma + c), __ldg(beta + c));
    dx[i] = __ldg(coef + c) * (dz - __ldg(coef + C + c) - h * __ldg(coef + 2 * C + c));
  }
}

}  // namespace skinnet::cuda::kernels
