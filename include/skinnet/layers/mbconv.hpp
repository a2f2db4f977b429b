#pragma once
// MBConv<D>: the mobile inverted bottleneck of MobileNetV2 / EfficientNet.
//
//   x ─┬─ [1x1 expand conv -> BN+act]   (skipped when expand_ratio == 1)
//      │   k x k depthwise conv (stride) -> BN+act
//      │   squeeze-and-excitation (reduced width = se_ratio x the block's INPUT channels, Swish inside)
//      │   1x1 project conv -> BN (no activation: a "linear bottleneck")
//      │   DropConnect (stochastic depth: the whole branch of a sample is dropped in training)
//      └── + x   only when stride == 1 and in == out channels (identity shortcut)
//
// Parameter names follow timm: with expansion (InvertedResidual) conv_pw, bn1, conv_dw, bn2, se.*,
// conv_pwl, bn3; without (DepthwiseSeparableConv) conv_dw, bn1, se.*, conv_pw, bn2.
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/se_block.hpp"
#include "skinnet/layers/sequential.hpp"

namespace skinnet {

struct MBConvConfig {
  int64_t in_channels = 0, out_channels = 0;
  int64_t kernel = 3, stride = 1;
  int64_t expand_ratio = 1;
  float se_ratio = 0.25f;        // 0 disables SE
  float drop_connect = 0.0f;     // stochastic-depth rate of this block
  Act act = Act::Swish;
  float bn_eps = 1e-3f, bn_momentum = 0.01f;
  bool tf_padding = true;        // TF "same" (Keras); false: symmetric k/2 (torchvision)
};

template <class D>
class MBConv : public Module<D> {
 public:
  // seeds: a function returning a fresh seed per call (one per conv), e.g. SeedSequence::next.
  template <class SeedFn>
  MBConv(const MBConvConfig& c, SeedFn&& seeds) : cfg_(c) {
    SKN_REQUIRE(c.in_channels > 0 && c.out_channels > 0 && c.expand_ratio >= 1, ValueError,
                "MBConv: bad configuration ", c.in_channels, "->", c.out_channels, " expand ", c.expand_ratio);
    const int64_t mid = c.in_channels * c.expand_ratio;
    const Padding dw_pad = c.tf_padding ? Padding::same() : Padding::symmetric(c.kernel / 2);
    auto branch = std::make_unique<Sequential<D>>();
    int bn_index = 1;
    auto bn = [&](int64_t ch, Act act) {
      branch->add("bn" + std::to_string(bn_index++), std::make_unique<BatchNorm<D>>(ch, c.bn_eps, c.bn_momentum, act));
    };
    const bool expand = c.expand_ratio != 1;
    if (expand) {
      branch->add("conv_pw", std::make_unique<Conv2D<D>>(c.in_channels, mid, 1, 1, Padding::valid(), false, seeds()));
      bn(mid, c.act);
    }
    branch->add("conv_dw", std::make_unique<DepthwiseConv2D<D>>(mid, c.kernel, c.stride, dw_pad, false, seeds()));
    bn(mid, c.act);
    if (c.se_ratio > 0) {
      const int64_t reduced = std::max<int64_t>(1, static_cast<int64_t>(static_cast<float>(c.in_channels) * c.se_ratio));
      branch->add("se", std::make_unique<SEBlock<D>>(mid, reduced, c.act, SENames::efficientnet()));
    }
    branch->add(expand ? "conv_pwl" : "conv_pw",
                std::make_unique<Conv2D<D>>(mid, c.out_channels, 1, 1, Padding::valid(), false, seeds()));
    bn(c.out_channels, Act::None);
    has_skip_ = c.stride == 1 && c.in_channels == c.out_channels;
    if (has_skip_) {
      if (c.drop_connect > 0) branch->add("drop_path", std::make_unique<DropConnect<D>>(c.drop_connect));
      body_ = std::make_unique<Residual<D>>(std::move(branch), nullptr, Act::None, "", "");
    } else {
      body_ = std::move(branch);  // no shortcut, so no stochastic depth either (as in the paper's code)
    }
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override { return body_->forward(x, mode); }
  Tensor<D> backward(const Tensor<D>& dy) override { return body_->backward(dy); }
  std::string name() const override {
    std::ostringstream s;
    s << "MBConv" << cfg_.expand_ratio << " k" << cfg_.kernel << "/" << cfg_.stride << " " << cfg_.in_channels
      << "->" << cfg_.out_channels << (has_skip_ ? " +skip" : "");
    return s.str();
  }
  Shape output_shape(const Shape& in) const override { return body_->output_shape(in); }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    body_->collect_parameters(prefix, out);
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    body_->collect_buffers(prefix, out);
  }
  void set_rng(uint64_t seed, uint32_t& next_stream) override { body_->set_rng(seed, next_stream); }
  void set_step(uint32_t step) override { body_->set_step(step); }

  const MBConvConfig& config() const { return cfg_; }
  bool has_skip() const { return has_skip_; }

 private:
  MBConvConfig cfg_;
  bool has_skip_ = false;
  ModulePtr<D> body_;
};

}  // namespace skinnet
