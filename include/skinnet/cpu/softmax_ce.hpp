#pragma once
// Softmax cross-entropy on the CPU, fused: one pass per row gives the loss and dL/dlogits.
//
// Definition (identical to PyTorch's CrossEntropyLoss(weight=w, label_smoothing=eps), mean reduction):
//   p      = softmax(z_n)                                (log-sum-exp with the row max subtracted)
//   c_nk   = (1 - eps) * w_{y_n} * [k == y_n] + (eps / K) * w_k
//   loss   = sum_n sum_k c_nk * (-log p_nk) / W,         W = sum_n w_{y_n}
//   dL/dz  = (p_nj * sum_k c_nk - c_nj) / W
// With no class weights, w = 1 and W = N. Label smoothing spreads eps uniformly over all K classes
// (the true class included), as PyTorch and Keras do.
#include <cmath>
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"

namespace skinnet::cpu {

// logits [N, K]; labels N class ids in [0, K); class_weights empty or K values. Writes dlogits [N, K]
// (reallocated as needed) and returns the mean loss. Labels and weights live on the host on every
// device (they are tiny).
inline float softmax_cross_entropy(const Tensor<Cpu>& logits, const std::vector<int32_t>& labels,
                                   const std::vector<float>& class_weights, float label_smoothing,
                                   Tensor<Cpu>& dlogits) {
  const char* op = "softmax_cross_entropy";
  SKN_REQUIRE(logits.shape().rank() == 2, ShapeError, op, ": logits ", logits.shape().str(),
              " are not [N x classes]");
  const int64_t N = logits.shape()[0], K = logits.shape()[1];
  SKN_REQUIRE(N > 0 && K > 0, ShapeError, op, ": empty logits ", logits.shape().str());
  SKN_REQUIRE(static_cast<int64_t>(labels.size()) == N, ShapeError, op, ": ", labels.size(),
              " labels for a batch of ", N);
  SKN_REQUIRE(class_weights.empty() || static_cast<int64_t>(class_weights.size()) == K, ValueError, op, ": ",
              class_weights.size(), " class weights for ", K, " classes");
  SKN_REQUIRE(label_smoothing >= 0.0f && label_smoothing <= 1.0f, ValueError, op,
              ": label smoothing must be in [0, 1], got ", label_smoothing);
  for (int64_t n = 0; n < N; ++n)
    SKN_REQUIRE(labels[static_cast<size_t>(n)] >= 0 && labels[static_cast<size_t>(n)] < K, ValueError, op,
                ": label ", labels[static_cast<size_t>(n)], " of sample ", n, " is not a class id in [0, ", K, ")");
  auto weight = [&](int64_t k) { return class_weights.empty() ? 1.0 : static_cast<double>(class_weights[static_cast<size_t>(k)]); };

  // Normaliser W and the smoothing mass's weight sum_k w_k (both tiny host loops, fixed order).
  double wsum = 0.0, wall = 0.0;
  for (int64_t n = 0; n < N; ++n) wsum += weight(labels[static_cast<size_t>(n)]);
  for (int64_t k = 0; k < K; ++k) wall += weight(k);
  SKN_REQUIRE(wsum > 0.0, ValueError, op, ": the class weights of this batch's labels sum to ", wsum);
  const double eps = label_smoothing, smooth = eps / static_cast<double>(K);

  if (dlogits.empty() || dlogits.shape() != logits.shape()) dlogits = Tensor<Cpu>(logits.shape());
  std::vector<double> row_loss(static_cast<size_t>(N));
  const float* __restrict zp = logits.data();
  float* __restrict dp = dlogits.data();
  parallel_for(0, N, [&](int64_t n) {
    const float* z = zp + n * K;
    float* d = dp + n * K;
    const int64_t y = labels[static_cast<size_t>(n)];
    double zmax = z[0];
    for (int64_t k = 1; k < K; ++k) zmax = z[k] > zmax ? z[k] : zmax;
    double se = 0.0;
    for (int64_t k = 0; k < K; ++k) se += std::exp(static_cast<double>(z[k]) - zmax);
    const double lse = zmax + std::log(se);  // log sum exp z
    const double wy = (1.0 - eps) * weight(y);
    const double csum = wy + smooth * wall;  // sum_k c_nk
    double loss = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      const double logp = static_cast<double>(z[k]) - lse;
      const double c = smooth * weight(k) + (k == y ? wy : 0.0);
      loss -= c * logp;
      d[k] = static_cast<float>((std::exp(logp) * csum - c) / wsum);
    }
    row_loss[static_cast<size_t>(n)] = loss;
  }, 8);
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) total += row_loss[static_cast<size_t>(n)];  // index order
  return static_cast<float>(total / wsum);
}

}  // namespace skinnet::cpu
