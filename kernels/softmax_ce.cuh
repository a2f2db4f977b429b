#pragma once
// Fused softmax cross-entropy kernel (loss and dL/dlogits in one pass) with label smoothing and class
// weights. Host launcher and the definition: include/skinnet/cuda/softmax_ce.hpp (the same as
// include/skinnet/cpu/softmax_ce.hpp, PyTorch's CrossEntropyLoss(weight, label_smoothing)).
//
// One thread per sample row: classifier heads have a handful of classes (7 for HAM10000) and batches
// of tens of samples, so a row is a few dozen flops and the whole loss one small launch. The row is
// evaluated in double exactly as the CPU does (max-subtracted log-sum-exp), and each row's loss goes
// to its own slot of row_loss; the host adds the rows in index order, so the mean loss is deterministic
// and no atomics are needed.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda::kernels {

inline constexpr int kSoftmaxCeThreads = 128;

// weights == nullptr means every class weighs 1. smooth = eps / K, wy_scale = 1 - eps,
// wall = sum_k w_k, wsum = sum_n w_{y_n} (the normaliser).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    softmax_ce_rows(const float* __restrict__ logits, const int32_t* __restrict__ labels,
                    const float* __restrict__ weights, int N, int K, double smooth, double wy_scale, double wall,
                    double wsum, float* __restrict__ dlogits, double* __restrict__ row_loss) {
  const int n = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (n >= N) return;
  const float* z = logits + static_cast<int64_t>(n) * K;
  float* d = dlogits + static_cast<int64_t>(n) * K;
  const int y = labels[n];
  double zmax = z[0];
  for (int k = 1; k < K; ++k) zmax = z[k] > zmax ? z[k] : zmax;
  double se = 0.0;
  for (int k = 0; k < K; ++k) se += exp(static_cast<double>(z[k]) - zmax);
  const double lse = zmax + log(se);  // log sum exp z
  const double wy = wy_scale * (weights ? static_cast<double>(weights[y]) : 1.0);
  const double csum = wy + smooth * wall;  // sum_k c_nk
  double loss = 0.0;
  for (int k = 0; k < K; ++k) {
    const double logp = static_cast<double>(z[k]) - lse;
    const double c = smooth * (weights ? static_cast<double>(weights[k]) : 1.0) + (k == y ? wy : 0.0);
    loss -= c * logp;
    d[k] = static_cast<float>((exp(logp) * csum - c) / wsum);
  }
  row_loss[n] = loss;
}

}  // namespace skinnet::cuda::kernels
