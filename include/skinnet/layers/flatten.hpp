#pragma once
// Flatten<D>: [N, ...] -> [N, rest], in skinnet's memory order. For NHWC maps that is H, W, C order
// (Keras' order); PyTorch flattens NCHW as C, H, W, so weights of a Dense after Flatten imported from
// PyTorch need their input rows permuted.
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Flatten : public Module<D> {
 public:
  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    if (mode == Mode::Train) in_shape_ = x.shape();
    has_cache_ = mode == Mode::Train;
    return x.clone().reshaped(output_shape(x.shape()));
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    return dy.clone().reshaped(in_shape_);
  }
  std::string name() const override { return "Flatten"; }
  Shape output_shape(const Shape& in) const override {
    SKN_REQUIRE(in.rank() >= 1 && in.numel() > 0, ShapeError, "Flatten: empty input ", in.str());
    return Shape{in[0], in.numel() / in[0]};
  }

 private:
  Shape in_shape_;
  bool has_cache_ = false;
};

}  // namespace skinnet
