#pragma once
// Dropout<D>: in training, zero each element with probability `rate` and scale the rest by
// 1 / (1 - rate); in inference, the identity. One Philox draw per element (random_mask.hpp).
#include "skinnet/cpu/dropout.hpp"
#include "skinnet/layers/random_mask.hpp"

namespace skinnet {

template <class D>
class Dropout : public RandomMaskLayer<D> {
 public:
  explicit Dropout(float rate) : RandomMaskLayer<D>("Dropout", rate) {}

 protected:
  Tensor<D> mask(const Tensor<D>& t, bool gradient) const override {
    return gradient ? dropout_backward(t, this->rate_, this->seed_, this->stream_, this->step_)
                    : dropout_forward(t, this->rate_, this->seed_, this->stream_, this->step_);
  }
};

}  // namespace skinnet
