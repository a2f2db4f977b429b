#pragma once
// Softmax cross-entropy on the Cuda backend (kernels/softmax_ce.cuh), fused, with the signature and
// definition of include/skinnet/cpu/softmax_ce.hpp (PyTorch's CrossEntropyLoss(weight=w,
// label_smoothing=eps), mean reduction):
//   c_nk  = (1 - eps) * w_{y_n} * [k == y_n] + (eps / K) * w_k
//   loss  = sum_n sum_k c_nk * (-log p_nk) / W,   W = sum_n w_{y_n}
//   dL/dz = (p_nj * sum_k c_nk - c_nj) / W
// Labels and class weights are host vectors on every device (they are tiny); they are copied to the
// device per call. The per-row losses come back to the host, which adds them in index order.
#include <cstdint>
#include <vector>

#include "kernels/softmax_ce.cuh"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/softmax_ce.hpp"  // (the CPU twin)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

// logits [N, K]; labels N class ids in [0, K); class_weights empty or K values. Writes dlogits [N, K]
// (reallocated as needed) and returns the mean loss.
inline float softmax_cross_entropy(const Tensor<Cuda>& logits, const std::vector<int32_t>& labels,
                                   const std::vector<float>& class_weights, float label_smoothing,
                                   Tensor<Cuda>& dlogits) {
  const char* op = "softmax_cross_entropy";
  SKN_REQUIRE(logits.shape().rank() == 2, ShapeError, op, ": logits ", logits.shape().str(), " are not [N x classes]");
  const int64_t N = logits.shape()[0], K = logits.shape()[1];
  SKN_REQUIRE(N > 0 && K > 0, ShapeError, op, ": empty logits ", logits.shape().str());
  SKN_REQUIRE(N <= (int64_t{1} << 30) && K <= (int64_t{1} << 30), ValueError, op, ": logits ", logits.shape().str(),
              " exceed the kernel's 32-bit row and class indices");
  SKN_REQUIRE(static_cast<int64_t>(labels.size()) == N, ShapeError, op, ": ", labels.size(), " labels for a batch of ",
              N);
  SKN_REQUIRE(class_weights.empty() || static_cast<int64_t>(class_weights.size()) == K, ValueError, op, ": ",
              class_weights.size(), " class weights for ", K, " classes");
  SKN_REQUIRE(label_smoothing >= 0.0f && label_smoothing <= 1.0f, ValueError, op,
              ": label smoothing must be in [0, 1], got ", label_smoothing);
  for (int64_t n = 0; n < N; ++n)
    SKN_REQUIRE(labels[static_cast<size_t>(n)] >= 0 && labels[static_cast<size_t>(n)] < K, ValueError, op, ": label ",
                labels[static_cast<size_t>(n)], " of sample ", n, " is not a class id in [0, ", K, ")");
  auto weight = [&](int64_t k) {
    return class_weights.empty() ? 1.0 : static_cast<double>(class_weights[static_cast<size_t>(k)]);
  };
  // Normaliser W and the smoothing mass's weight sum_k w_k: tiny host loops in a fixed order.
  double wsum = 0.0, wall = 0.0;
  for (int64_t n = 0; n < N; ++n) wsum += weight(labels[static_cast<size_t>(n)]);
  for (int64_t k = 0; k < K; ++k) wall += weight(k);
  SKN_REQUIRE(wsum > 0.0, ValueError, op, ": the class weights of this batch's labels sum to ", wsum);
  const double eps = label_smoothing;

  detail::ensure_shape(dlogits, logits.shape());
  detail::DeviceScratch<int32_t> dev_labels(N);
  detail::DeviceScratch<float> dev_weights(K);
  detail::DeviceScratch<double> row_loss(N);
  SKN_CUDA_CHECK(
      cudaMemcpy(dev_labels.get(), labels.data(), static_cast<size_t>(N) * sizeof(int32_t), cudaMemcpyHostToDevice));
  if (!class_weights.empty())
    SKN_CUDA_CHECK(cudaMemcpy(dev_weights.get(), class_weights.data(), static_cast<size_t>(K) * sizeof(float),
                              cudaMemcpyHostToDevice));
  const dim3 grid(static_cast<unsigned>((N + kernels::kSoftmaxCeThreads - 1) / kernels::kSoftmaxCeThreads));
  SKN_LAUNCH(kernels::softmax_ce_rows<kernels::kSoftmaxCeThreads>, grid, kernels::kSoftmaxCeThreads, 0, 0,
             logits.data(), dev_labels.get(), class_weights.empty() ? nullptr : dev_weights.get(), static_cast<int>(N),
             static_cast<int>(K), eps / static_cast<double>(K), 1.0 - eps, wall, wsum, dlogits.data(), row_loss.get());
  std::vector<double> losses(static_cast<size_t>(N));
  SKN_CUDA_CHECK(
      cudaMemcpy(losses.data(), row_loss.get(), static_cast<size_t>(N) * sizeof(double), cudaMemcpyDeviceToHost));
  double total = 0.0;
  for (double l : losses) total += l;  // index order
  return static_cast<float>(total / wsum);
}

}  // namespace skinnet::cuda
