#pragma once
// Activation<D>: a pointwise activation layer (ReLU, Swish/SiLU, Mish, Sigmoid). No parameters.
// Training mode keeps (shares, no copy) the input, which the backward formulas need (Swish, Mish).
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Activation : public Module<D> {
 public:
  explicit Activation(Act act) : act_(act) {}

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    if (mode == Mode::Train) x_ = x.share();
    has_cache_ = mode == Mode::Train;
    return activation_forward(act_, x);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    return activation_backward(act_, x_, dy);
  }
  std::string name() const override { return std::string("Activation ") + act_name(act_); }
  Shape output_shape(const Shape& in) const override { return in; }
  Act activation() const { return act_; }

 private:
  Act act_;
  Tensor<D> x_;
  bool has_cache_ = false;
};

template <class D> inline ModulePtr<D> make_relu() { return std::make_unique<Activation<D>>(Act::ReLU); }
template <class D> inline ModulePtr<D> make_swish() { return std::make_unique<Activation<D>>(Act::Swish); }

}  // namespace skinnet
