#pragma once
// SoftmaxCrossEntropy<D>: the classification loss, with label smoothing and class weights (for the
// imbalanced dermatology datasets). The math and its exact definition (PyTorch's CrossEntropyLoss,
// mean reduction) are in cpu/softmax_ce.hpp; forward computes the loss and dL/dlogits in one fused
// pass and backward hands the gradient out.
#include <cstdint>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/softmax_ce.hpp"
#include "skinnet/core/tensor.hpp"

namespace skinnet {

struct LossOptions {
  float label_smoothing = 0.0f;
  std::vector<float> class_weights;  // empty: every class weighs 1
};

template <class D>
class SoftmaxCrossEntropy {
 public:
  explicit SoftmaxCrossEntropy(LossOptions options = {}) : options_(std::move(options)) {
    SKN_REQUIRE(options_.label_smoothing >= 0.0f && options_.label_smoothing <= 1.0f, ValueError,
                "SoftmaxCrossEntropy: label smoothing must be in [0, 1], got ", options_.label_smoothing);
    for (float w : options_.class_weights)
      SKN_REQUIRE(w >= 0.0f, ValueError, "SoftmaxCrossEntropy: negative class weight ", w);
  }

  // Mean loss of logits [N, classes] against class ids; keeps dL/dlogits for backward().
  float forward(const Tensor<D>& logits, const std::vector<int32_t>& labels) {
    const float loss =
        softmax_cross_entropy(logits, labels, options_.class_weights, options_.label_smoothing, dlogits_);
    has_grad_ = true;
    return loss;
  }
  // dL/dlogits of the last forward.
  const Tensor<D>& backward() const {
    SKN_REQUIRE(has_grad_, Error, "SoftmaxCrossEntropy: backward before forward");
    return dlogits_;
  }
  const LossOptions& options() const { return options_; }

 private:
  LossOptions options_;
  Tensor<D> dlogits_;
  bool has_grad_ = false;
};

}  // namespace skinnet
