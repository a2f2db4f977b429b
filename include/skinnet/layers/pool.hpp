#pragma once
// MaxPool2D<D> and AvgPool2D<D>: window pooling over NHWC, no parameters.
//
//   MaxPool2D<Cpu>(3, 2, Padding::same())         // Keras Xception's block pools
//   MaxPool2D<Cpu>(3, 2, Padding::symmetric(1))    // torchvision ResNet's stem pool
//   AvgPool2D<Cpu>(2, 2, Padding::valid())
//
// Padding follows cpu/pool.hpp: padded positions never win a max and are not counted in a mean (TF
// "same"). Defaults are Keras': stride = kernel when 0 is given, padding "valid".
// MaxPool2D's Train forward keeps the input (backward routes dy to each window's first maximum);
// AvgPool2D's keeps only the input shape. Infer keeps nothing.
#include <cstdint>
#include <string>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/cpu/pool.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

namespace pool_layer_detail {
inline ConvGeometry geometry(const Shape& in, int64_t k, int64_t stride, const Padding& pad, const std::string& who) {
  SKN_REQUIRE(in.rank() == 4, ShapeError, who, ": expected an NHWC input, got ", in.str());
  return ConvGeometry::make(in, k, stride, pad, in.c(), who);
}
inline std::string describe(const char* kind, int64_t k, int64_t stride, const Padding& pad) {
  return std::string(kind) + " " + std::to_string(k) + "x" + std::to_string(k) + "/" + std::to_string(stride) +
         " " + pad.str();
}
}  // namespace pool_layer_detail

template <class D>
class MaxPool2D : public Module<D> {
 public:
  explicit MaxPool2D(int64_t kernel, int64_t stride = 0, Padding padding = Padding::valid())
      : k_(kernel), stride_(stride == 0 ? kernel : stride), padding_(padding) {
    SKN_REQUIRE(k_ >= 1 && stride_ >= 1, ValueError, "MaxPool2D: kernel and stride must be >= 1 (got ", k_,
                ", ", stride_, ")");
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    Tensor<D> y = max_pool2d_forward(x, geometry(x.shape()));
    cached_x_ = mode == Mode::Train ? x.share() : Tensor<D>();
    return y;
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(!cached_x_.empty(), Error, name(), ": backward() needs a preceding forward(x, Mode::Train)");
    const ConvGeometry g = geometry(cached_x_.shape());
    SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, name(), ": backward got dy ", dy.shape().str(),
                ", the last forward produced ", g.out_shape().str());
    return max_pool2d_backward(cached_x_, dy, g);
  }
  std::string name() const override { return pool_layer_detail::describe("MaxPool2D", k_, stride_, padding_); }
  Shape output_shape(const Shape& in) const override { return geometry(in).out_shape(); }
  ConvGeometry geometry(const Shape& in) const {
    return pool_layer_detail::geometry(in, k_, stride_, padding_, name());
  }

 private:
  int64_t k_, stride_;
  Padding padding_;
  Tensor<D> cached_x_;
};

template <class D>
class AvgPool2D : public Module<D> {
 public:
  explicit AvgPool2D(int64_t kernel, int64_t stride = 0, Padding padding = Padding::valid())
      : k_(kernel), stride_(stride == 0 ? kernel : stride), padding_(padding) {
    SKN_REQUIRE(k_ >= 1 && stride_ >= 1, ValueError, "AvgPool2D: kernel and stride must be >= 1 (got ", k_,
                ", ", stride_, ")");
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    const ConvGeometry g = geometry(x.shape());
    has_cache_ = mode == Mode::Train;
    if (has_cache_) cached_in_ = x.shape();
    return avg_pool2d_forward(x, g);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward() needs a preceding forward(x, Mode::Train)");
    const ConvGeometry g = geometry(cached_in_);
    SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, name(), ": backward got dy ", dy.shape().str(),
                ", the last forward produced ", g.out_shape().str());
    return avg_pool2d_backward(dy, g);
  }
  std::string name() const override { return pool_layer_detail::describe("AvgPool2D", k_, stride_, padding_); }
  Shape output_shape(const Shape& in) const override { return geometry(in).out_shape(); }
  ConvGeometry geometry(const Shape& in) const {
    return pool_layer_detail::geometry(in, k_, stride_, padding_, name());
  }

 private:
  int64_t k_, stride_;
  Padding padding_;
  bool has_cache_ = false;
  Shape cached_in_;
};

}  // namespace skinnet
