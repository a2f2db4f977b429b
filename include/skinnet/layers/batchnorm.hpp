#pragma once
// BatchNorm<D>: per-channel batch normalisation of NHWC maps (or [N, C] features), optionally fused
// with the activation that follows it (ReLU, Swish, ...), which saves a full pass over the tensor in
// both directions.
//
//   parameters   "weight" (gamma, init 1), "bias" (beta, init 0)           timm / PyTorch names
//   buffers      "running_mean" (init 0), "running_var" (init 1)
//   Train        normalise with the batch mean and biased batch variance; update
//                running = (1 - momentum) * running + momentum * batch, with the *unbiased* variance
//                for running_var (PyTorch's definition, momentum 0.1 by default).
//   Infer        normalise with the running statistics.
//
// Keras states momentum the other way round (weight of the old value, 0.99 by default): Keras momentum
// m is momentum 1 - m here. eps is per model: 1e-5 (PyTorch default, ResNet), 1e-3 (Keras
// EfficientNet and Xception).
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/batchnorm.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class BatchNorm : public Module<D> {
 public:
  explicit BatchNorm(int64_t channels, float eps = 1e-5f, float momentum = 0.1f, Act act = Act::None)
      : channels_(channels), eps_(eps), momentum_(momentum), act_(act) {
    SKN_REQUIRE(channels > 0, ValueError, "BatchNorm: channels must be positive, got ", channels);
    SKN_REQUIRE(eps > 0.0f, ValueError, "BatchNorm: eps must be positive, got ", eps);
    SKN_REQUIRE(momentum >= 0.0f && momentum <= 1.0f, ValueError, "BatchNorm: momentum must be in [0, 1], got ",
                momentum, " (PyTorch convention: the weight of the new batch statistics)");
    weight_.value = Tensor<D>::filled(Shape{channels}, 1.0f);
    weight_.grad = Tensor<D>::zeros(Shape{channels});
    bias_ = Parameter<D>(Shape{channels});
    running_mean_ = Tensor<D>::zeros(Shape{channels});
    running_var_ = Tensor<D>::filled(Shape{channels}, 1.0f);
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    check_input(x.shape());
    if (mode == Mode::Infer) {
      has_cache_ = false;  // a later backward must not use the statistics of an older batch
      x_ = Tensor<D>();
      return batchnorm_forward_infer(x, weight_.value, bias_.value, running_mean_, running_var_, eps_, act_);
    }
    Tensor<D> y;
    batchnorm_forward_train(x, weight_.value, bias_.value, running_mean_, running_var_, momentum_, eps_, act_, y,
                            batch_mean_, batch_invstd_);
    x_ = x.share();  // backward recomputes xhat from x: no normalised copy is written
    has_cache_ = true;
    return y;
  }

  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    return batchnorm_backward(dy, x_, weight_.value, bias_.value, batch_mean_, batch_invstd_, act_, weight_.grad,
                              bias_.grad);
  }

  std::string name() const override {
    std::ostringstream s;
    s << "BatchNorm " << channels_ << " eps=" << eps_ << " momentum=" << momentum_;
    if (act_ != Act::None) s << " +" << act_name(act_);
    return s.str();
  }
  Shape output_shape(const Shape& in) const override {
    check_input(in);
    return in;
  }

  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    out.push_back({prefix + "weight", &weight_});
    out.push_back({prefix + "bias", &bias_});
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    out.push_back({prefix + "running_mean", &running_mean_});
    out.push_back({prefix + "running_var", &running_var_});
  }

  int64_t channels() const { return channels_; }
  float eps() const { return eps_; }
  float momentum() const { return momentum_; }
  Act activation() const { return act_; }
  Parameter<D>& weight() { return weight_; }
  Parameter<D>& bias() { return bias_; }
  Tensor<D>& running_mean() { return running_mean_; }
  Tensor<D>& running_var() { return running_var_; }
  // Statistics of the last training-mode forward: batch mean and 1 / sqrt(biased var + eps).
  const Tensor<D>& batch_mean() const { return batch_mean_; }
  const Tensor<D>& batch_invstd() const { return batch_invstd_; }

 private:
  void check_input(const Shape& s) const {
    SKN_REQUIRE(s.rank() >= 2 && s[s.rank() - 1] == channels_, ShapeError, name(), ": input ", s.str(),
                " does not have ", channels_, " channels in its last dimension");
  }

  int64_t channels_;
  float eps_, momentum_;
  Act act_;
  Parameter<D> weight_, bias_;
  Tensor<D> running_mean_, running_var_;
  // Training cache: the input (shared, not copied) and the statistics used (kept allocated between steps).
  Tensor<D> x_, batch_mean_, batch_invstd_;
  bool has_cache_ = false;
};

}  // namespace skinnet
