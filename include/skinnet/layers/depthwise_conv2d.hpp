#pragma once
// DepthwiseConv2D<D>: one k x k filter per channel (channel multiplier 1), NHWC, weight [kh][kw][c].
//
//   DepthwiseConv2D<Cpu> dw(96, 3, 2, Padding::same(), false, seed);   // EfficientNet MBConv
//
// Parameters: "weight" [k x k x c] and, with a bias, "bias" [c]. The bias defaults to on, as in Keras
// and PyTorch; networks that follow the conv with BatchNorm (EfficientNet, Xception) pass false.
// Importers reshape PyTorch's [c, 1, kh, kw] to [kh, kw, c].
// Initialisation: He-uniform with fan_in = k*k (each output sees k*k inputs), Philox stream 0; see
// layers/conv2d.hpp. Train caches the input; Infer caches nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/cpu/depthwise.hpp"
#include "skinnet/layers/conv2d.hpp"  // layer_init::he_uniform
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class DepthwiseConv2D : public Module<D> {
 public:
  DepthwiseConv2D(int64_t channels, int64_t kernel, int64_t stride = 1, Padding padding = Padding::same(),
                  bool use_bias = true, uint64_t seed = 0)
      : c_(channels), k_(kernel), stride_(stride), padding_(padding), use_bias_(use_bias) {
    SKN_REQUIRE(c_ >= 1 && k_ >= 1 && stride_ >= 1, ValueError,
                "DepthwiseConv2D: channels, kernel and stride must be >= 1 (got ", c_, ", kernel ", k_,
                ", stride ", stride_, ")");
    const Shape wshape{k_, k_, c_};
    weight_.value = layer_init::he_uniform<D>(wshape, k_ * k_, seed, 0);
    weight_.grad = Tensor<D>::zeros(wshape);
    if (use_bias_) bias_ = Parameter<D>(Shape{c_});
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    const ConvGeometry g = geometry(x.shape());
    Tensor<D> y = depthwise_conv2d_forward(x, weight_.value, use_bias_ ? &bias_.value : nullptr, g);
    cached_x_ = mode == Mode::Train ? x.share() : Tensor<D>();
    return y;
  }

  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(!cached_x_.empty(), Error, name(), ": backward() needs a preceding forward(x, Mode::Train)");
    const ConvGeometry g = geometry(cached_x_.shape());
    SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, name(), ": backward got dy ", dy.shape().str(),
                ", the last forward produced ", g.out_shape().str());
    // Both gradients in one pass over dy (the op family's fused backward).
    return depthwise_conv2d_backward(cached_x_, dy, weight_.value, g, weight_.grad, use_bias_ ? &bias_.grad : nullptr);
  }

  std::string name() const override {
    return "DepthwiseConv2D " + std::to_string(c_) + " " + std::to_string(k_) + "x" + std::to_string(k_) + "/" +
           std::to_string(stride_) + " " + padding_.str() + (use_bias_ ? " +bias" : "");
  }
  Shape output_shape(const Shape& in) const override { return geometry(in).out_shape(); }

  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    out.push_back({prefix + "weight", &weight_});
    if (use_bias_) out.push_back({prefix + "bias", &bias_});
  }

  Parameter<D>& weight() { return weight_; }
  Parameter<D>& bias() {
    SKN_REQUIRE(use_bias_, Error, name(), ": this layer has no bias");
    return bias_;
  }
  bool has_bias() const { return use_bias_; }
  int64_t channels() const { return c_; }
  int64_t kernel() const { return k_; }
  int64_t stride() const { return stride_; }
  const Padding& padding() const { return padding_; }

  ConvGeometry geometry(const Shape& in) const {
    SKN_REQUIRE(in.rank() == 4 && in.c() == c_, ShapeError, name(), ": expected an NHWC input with ", c_,
                " channels, got ", in.str());
    return ConvGeometry::make(in, k_, stride_, padding_, c_, name());
  }

 private:
  int64_t c_, k_, stride_;
  Padding padding_;
  bool use_bias_;
  Parameter<D> weight_;
  Parameter<D> bias_;
  Tensor<D> cached_x_;
};

}  // namespace skinnet
