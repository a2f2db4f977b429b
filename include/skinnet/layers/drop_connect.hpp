#pragma once
// DropConnect<D>: per-sample stochastic depth, as EfficientNet applies to a residual branch before
// the identity is added (timm's drop_path). In training each sample of the batch is zeroed with
// probability `rate` and the survivors are scaled by 1 / (1 - rate); in inference it is the identity.
// One Philox draw per sample (random_mask.hpp): element index = sample index.
#include "skinnet/cpu/dropout.hpp"
#include "skinnet/layers/random_mask.hpp"

namespace skinnet {

template <class D>
class DropConnect : public RandomMaskLayer<D> {
 public:
  explicit DropConnect(float rate) : RandomMaskLayer<D>("DropConnect", rate) {}

 protected:
  Tensor<D> mask(const Tensor<D>& t, bool gradient) const override {
    return gradient ? drop_connect_backward(t, this->rate_, this->seed_, this->stream_, this->step_)
                    : drop_connect_forward(t, this->rate_, this->seed_, this->stream_, this->step_);
  }
};

}  // namespace skinnet
