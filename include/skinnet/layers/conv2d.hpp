#pragma once
// Conv2D<D>: dense 2-D convolution, NHWC in and out, weight HWIO [kh][kw][cin][cout], optional bias.
//
//   Conv2D<Cpu> stem(3, 32, 3, 2, Padding::same(), false, seed);   // Keras Xception's first conv
//   Conv2D<Cpu> c1(64, 64, 3, 1, Padding::symmetric(1), false, seed); // torchvision ResNet 3x3
//
// Parameters: "weight" [kh x kw x cin x cout] and, with a bias, "bias" [cout] (timm's names;
// containers prefix them: "layer1.0.conv1.weight"). Importers transpose PyTorch's OIHW to HWIO.
//
// Initialisation is He-uniform: U(-b, b) with b = sqrt(6 / fan_in), fan_in = kh*kw*cin, i.e. variance
// 2 / fan_in, which keeps the activation scale through ReLU-like nonlinearities; the bias starts at 0.
// The numbers come from Philox (key = seed, stream = the tensor's index within the layer, step 0,
// element index), so a seed gives the same weights on every compiler, platform and device.
//
// forward(x, Train) keeps x for backward (a shared handle, not a copy: Tensor::share); forward(x, Infer)
// keeps nothing (and drops any earlier handle). The math is the backend's conv2d_forward / conv2d_backward_input /
// conv2d_backward_params, found by argument-dependent lookup on Tensor<D>.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/philox.hpp"
#include "skinnet/cpu/conv2d.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

namespace layer_init {
// A tensor of U(-b, b), b = sqrt(6 / fan_in), drawn from Philox(seed, stream, step 0, index).
template <class D>
Tensor<D> he_uniform(const Shape& shape, int64_t fan_in, uint64_t seed, uint32_t stream) {
  const float bound = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = bound * (2.f * philox_uniform(seed, stream, 0, i) - 1.f);
  return Tensor<D>::from_vector(shape, v);
}
}  // namespace layer_init

template <class D>
class Conv2D : public Module<D> {
 public:
  Conv2D(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
         Padding padding = Padding::same(), bool use_bias = true, uint64_t seed = 0)
      : cin_(in_channels), cout_(out_channels), k_(kernel), stride_(stride), padding_(padding),
        use_bias_(use_bias) {
    SKN_REQUIRE(cin_ >= 1 && cout_ >= 1 && k_ >= 1 && stride_ >= 1, ValueError,
                "Conv2D: channels, kernel and stride must be >= 1 (got ", cin_, "->", cout_, ", kernel ", k_,
                ", stride ", stride_, ")");
    const Shape wshape{k_, k_, cin_, cout_};
    weight_.value = layer_init::he_uniform<D>(wshape, k_ * k_ * cin_, seed, 0);
    weight_.grad = Tensor<D>::zeros(wshape);
    if (use_bias_) bias_ = Parameter<D>(Shape{cout_});
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    const ConvGeometry g = geometry(x.shape());
    Tensor<D> y = conv2d_forward(x, weight_.value, use_bias_ ? &bias_.value : nullptr, g);
    cached_x_ = mode == Mode::Train ? x.share() : Tensor<D>();
    return y;
  }

  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(!cached_x_.empty(), Error, name(), ": backward() needs a preceding forward(x, Mode::Train)");
    const ConvGeometry g = geometry(cached_x_.shape());
    SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, name(), ": backward got dy ", dy.shape().str(),
                ", the last forward produced ", g.out_shape().str());
    conv2d_backward_params(cached_x_, dy, g, weight_.grad, use_bias_ ? &bias_.grad : nullptr);
    if (!input_grad_) return Tensor<D>();  // set_input_grad(false): nobody reads dL/dx
    return conv2d_backward_input(dy, weight_.value, g);
  }
  void set_input_grad(bool needed) override { input_grad_ = needed; }

  std::string name() const override {
    return "Conv2D " + std::to_string(cin_) + "->" + std::to_string(cout_) + " " + std::to_string(k_) + "x" +
           std::to_string(k_) + "/" + std::to_string(stride_) + " " + padding_.str() + (use_bias_ ? " +bias" : "");
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
  int64_t in_channels() const { return cin_; }
  int64_t out_channels() const { return cout_; }
  int64_t kernel() const { return k_; }
  int64_t stride() const { return stride_; }
  const Padding& padding() const { return padding_; }

  ConvGeometry geometry(const Shape& in) const {
    SKN_REQUIRE(in.rank() == 4 && in.c() == cin_, ShapeError, name(), ": expected an NHWC input with ", cin_,
                " channels, got ", in.str());
    return ConvGeometry::make(in, k_, stride_, padding_, cout_, name());
  }

 private:
  int64_t cin_, cout_, k_, stride_;
  Padding padding_;
  bool use_bias_;
  Parameter<D> weight_;
  Parameter<D> bias_;
  Tensor<D> cached_x_;
  bool input_grad_ = true;  // backward returns dL/dx (see Module::set_input_grad)
};

}  // namespace skinnet
