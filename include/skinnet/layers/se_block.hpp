#pragma once
// SEBlock<D>: squeeze-and-excitation (Hu et al. 2018) on an NHWC map x with C channels.
//
//   s = mean over H, W of x                     [N, C]       squeeze
//   r = act(s W1 + b1)                          [N, Cr]      reduce, act = ReLU (SE-ResNet) or Swish (EfficientNet)
//   g = sigmoid(r W2 + b2)                      [N, C]       expand + gate
//   y = x * g                                   (per sample and channel)
//
// The two excitation layers are 1x1 convolutions in timm, so their weights are stored as 1x1 conv
// kernels in HWIO, [1, 1, in, out] (the same memory as a dense [in][out]), and importing a PyTorch
// [out, in, 1, 1] weight is the ordinary conv transpose. Parameter names follow the model family:
//   SE-ResNet (timm SEModule):         fc1.weight, fc1.bias, fc2.weight, fc2.bias
//   EfficientNet (timm SqueezeExcite): conv_reduce.weight/.bias, conv_expand.weight/.bias
// The reduced width is given explicitly: timm derives it per family (SE-ResNet: C/16 rounded to a
// multiple of 8; EfficientNet: 1/4 of the block's *input* channels), which the model builders know.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/dense.hpp"
#include "skinnet/cpu/global_pool.hpp"
#include "skinnet/cpu/se.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

struct SENames {
  std::string reduce = "fc1";
  std::string expand = "fc2";
  static SENames resnet() { return {"fc1", "fc2"}; }
  static SENames efficientnet() { return {"conv_reduce", "conv_expand"}; }
};

template <class D>
class SEBlock : public Module<D> {
 public:
  SEBlock(int64_t channels, int64_t reduced, Act inner = Act::ReLU, SENames names = SENames::resnet())
      : channels_(channels),
        reduced_(reduced),
        inner_(inner),
        names_(std::move(names)),
        w1_(Shape{1, 1, channels, reduced}),
        b1_(Shape{reduced}),
        w2_(Shape{1, 1, reduced, channels}),
        b2_(Shape{channels}) {
    SKN_REQUIRE(channels > 0 && reduced > 0, ValueError, "SEBlock: channels (", channels, ") and reduced channels (",
                reduced, ") must be positive");
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    check_input(x.shape());
    Tensor<D> s = global_avg_pool_forward(x);
    Tensor<D> pre1 = dense_forward(s, w1_.value, b1_.value);
    Tensor<D> r = activation_forward(inner_, pre1);
    Tensor<D> pre2 = dense_forward(r, w2_.value, b2_.value);
    Tensor<D> g = activation_forward(Act::Sigmoid, pre2);
    Tensor<D> y = se_scale_forward(x, g);
    has_cache_ = mode == Mode::Train;
    if (has_cache_) {
      x_ = x.share();
      s_ = std::move(s);
      pre1_ = std::move(pre1);
      r_ = std::move(r);
      pre2_ = std::move(pre2);
      g_ = std::move(g);
    }
    return y;
  }

  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    Tensor<D> dg = se_gate_gradient(dy, x_);
    Tensor<D> dpre2 = activation_backward(Act::Sigmoid, pre2_, dg);
    Tensor<D> dr = dense_backward(dpre2, r_, w2_.value, w2_.grad, b2_.grad);
    Tensor<D> dpre1 = activation_backward(inner_, pre1_, dr);
    Tensor<D> ds = dense_backward(dpre1, s_, w1_.value, w1_.grad, b1_.grad);
    return se_input_gradient(dy, g_, ds);
  }

  std::string name() const override {
    std::ostringstream s;
    s << "SEBlock " << channels_ << "->" << reduced_ << "->" << channels_ << " " << act_name(inner_);
    return s.str();
  }
  Shape output_shape(const Shape& in) const override {
    check_input(in);
    return in;
  }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    out.push_back({prefix + names_.reduce + ".weight", &w1_});
    out.push_back({prefix + names_.reduce + ".bias", &b1_});
    out.push_back({prefix + names_.expand + ".weight", &w2_});
    out.push_back({prefix + names_.expand + ".bias", &b2_});
  }

  Parameter<D>& reduce_weight() { return w1_; }
  Parameter<D>& reduce_bias() { return b1_; }
  Parameter<D>& expand_weight() { return w2_; }
  Parameter<D>& expand_bias() { return b2_; }

 private:
  void check_input(const Shape& s) const {
    SKN_REQUIRE(s.rank() == 4 && s.c() == channels_, ShapeError, name(), ": input ", s.str(),
                " is not an NHWC map with ", channels_, " channels");
  }
  int64_t channels_, reduced_;
  Act inner_;
  SENames names_;
  Parameter<D> w1_, b1_, w2_, b2_;
  Tensor<D> x_, s_, pre1_, r_, pre2_, g_;  // training cache
  bool has_cache_ = false;
};

}  // namespace skinnet
