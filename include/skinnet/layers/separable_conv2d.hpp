#pragma once
// SeparableConv2D<D>: a depthwise k x k convolution (carrying the stride and padding) followed by a
// pointwise 1x1 convolution that mixes channels, with nothing in between, as Keras' SeparableConv2D and
// the Xception paper define it. Without a bias by default, as every separable conv in Xception is
// followed by BatchNorm; with use_bias the bias belongs to the pointwise conv (as in Keras).
//
//   SeparableConv2D<Cpu> sep(128, 256, 3, 1, Padding::same(), false, seed);
//
// Parameters follow timm's legacy_xception SeparableConv2d: "conv1.weight" [k x k x cin] (depthwise),
// "pointwise.weight" [1 x 1 x cin x cout], and "pointwise.bias" [cout] with use_bias.
// Initialisation: the depthwise part from `seed`, the pointwise part from a seed derived from it (so the
// two tensors are independent draws), each He-uniform as in layers/conv2d.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class SeparableConv2D : public Module<D> {
 public:
  SeparableConv2D(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
                  Padding padding = Padding::same(), bool use_bias = false, uint64_t seed = 0)
      : conv1_(in_channels, kernel, stride, padding, false, seed),
        pointwise_(in_channels, out_channels, 1, 1, Padding::valid(), use_bias, pointwise_seed(seed)) {}

  // Train: conv1 keeps x and pointwise keeps the intermediate; Infer: neither keeps anything.
  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    check_input(x.shape());
    return pointwise_.forward(conv1_.forward(x, mode), mode);
  }
  Tensor<D> backward(const Tensor<D>& dy) override { return conv1_.backward(pointwise_.backward(dy)); }

  std::string name() const override {
    return "SeparableConv2D " + std::to_string(pointwise_.in_channels()) + "->" +
           std::to_string(pointwise_.out_channels()) + " " + std::to_string(conv1_.kernel()) + "x" +
           std::to_string(conv1_.kernel()) + "/" + std::to_string(conv1_.stride()) + " " + conv1_.padding().str() +
           (pointwise_.has_bias() ? " +bias" : "");
  }
  Shape output_shape(const Shape& in) const override {
    check_input(in);
    return pointwise_.output_shape(conv1_.output_shape(in));
  }

  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    conv1_.collect_parameters(prefix + "conv1.", out);
    pointwise_.collect_parameters(prefix + "pointwise.", out);
  }

  DepthwiseConv2D<D>& depthwise() { return conv1_; }
  Conv2D<D>& pointwise() { return pointwise_; }

 private:
  static uint64_t pointwise_seed(uint64_t seed) { return seed ^ 0x9E3779B97F4A7C15ull; }  // 2^64 / phi
  void check_input(const Shape& in) const {
    SKN_REQUIRE(in.rank() == 4 && in.c() == pointwise_.in_channels(), ShapeError, name(),
                ": expected an NHWC input with ", pointwise_.in_channels(), " channels, got ", in.str());
  }

  DepthwiseConv2D<D> conv1_;
  Conv2D<D> pointwise_;
};

}  // namespace skinnet
