#pragma once
// GlobalAvgPool<D>: the mean over height and width, [N, H, W, C] -> [N, C] (ready for a Dense
// classifier, like Keras' GlobalAveragePooling2D and timm's pooled features). keep_dims = true gives
// [N, 1, 1, C] instead.
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/global_pool.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class GlobalAvgPool : public Module<D> {
 public:
  explicit GlobalAvgPool(bool keep_dims = false) : keep_dims_(keep_dims) {}

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    const Shape out = output_shape(x.shape());
    if (mode == Mode::Train) in_shape_ = x.shape();
    has_cache_ = mode == Mode::Train;
    Tensor<D> y = global_avg_pool_forward(x);
    y.reshape(out);
    return y;
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    return global_avg_pool_backward(dy, in_shape_);
  }
  std::string name() const override { return keep_dims_ ? "GlobalAvgPool keep_dims" : "GlobalAvgPool"; }
  Shape output_shape(const Shape& in) const override {
    SKN_REQUIRE(in.rank() == 4, ShapeError, name(), ": input ", in.str(), " is not NHWC");
    return keep_dims_ ? Shape{in.n(), 1, 1, in.c()} : Shape{in.n(), in.c()};
  }

 private:
  bool keep_dims_;
  Shape in_shape_;
  bool has_cache_ = false;
};

}  // namespace skinnet
