#pragma once
// Classifier<D>: the common surface of every model in the zoo (timm's: forward_features, the head,
// reset_classifier, num_features, a default config).
//
//   features   a Sequential whose children carry timm's top-level names (conv1, bn1, layer1, ... or
//              conv_stem, bn1, blocks, conv_head, bn2), so parameter names equal timm's state_dict keys
//   head       global average pool -> dropout (if any) -> Dense named "fc" (ResNet, Xception) or
//              "classifier" (EfficientNet)
//
// logits = head(features(x)); backward runs the same path in reverse.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/philox.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/dropout.hpp"
#include "skinnet/layers/global_avg_pool.hpp"
#include "skinnet/layers/module.hpp"
#include "skinnet/layers/sequential.hpp"

namespace skinnet {

// What a model needs to be used and to be rebuilt from a file.
struct ModelConfig {
  std::string architecture;            // zoo name: "seresnet50", "efficientnet_b0", ...
  int64_t num_classes = 1000;
  int64_t input_size = 224;            // default (training) resolution, square
  std::string normalization = "torch"; // input preset: "tf" [-1,1], "caffe", "torch", "raw"
  float dropout = 0.0f;                // before the classifier
  int64_t num_features = 0;            // width of the pooled features
  std::string classifier_name = "fc";  // "fc" (timm ResNet, Xception) or "classifier" (EfficientNet)
};

// Hands out independent initialisation seeds, one per layer, from one user seed, so adding a layer
// changes only the layers after it and a seed always builds the same network.
class SeedSequence {
 public:
  explicit SeedSequence(uint64_t seed) : seed_(seed) {}
  uint64_t next() {
    const uint32_t lo = philox_bits(seed_, 0x5EEDu, 0, counter_);
    const uint32_t hi = philox_bits(seed_, 0x5EEDu, 1, counter_);
    ++counter_;
    return (static_cast<uint64_t>(hi) << 32) | lo;
  }

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;
};

template <class D>
class Classifier : public Module<D> {
 public:
  Classifier(ModelConfig config, std::unique_ptr<Sequential<D>> features, uint64_t seed)
      : config_(std::move(config)), features_(std::move(features)) {
    SKN_REQUIRE(features_ != nullptr, ValueError, "Classifier: null feature extractor");
    SKN_REQUIRE(config_.num_features > 0, ValueError, config_.architecture, ": num_features must be positive");
    reset_classifier(config_.num_classes, seed);
  }

  // The pooled-feature classifier is replaced by a freshly initialised one (fine-tuning on a new label
  // set). Glorot-uniform weights (Keras' Dense default), zero bias.
  void reset_classifier(int64_t num_classes, uint64_t seed = 0) {
    SKN_REQUIRE(num_classes >= 1, ValueError, config_.architecture, ": num_classes must be >= 1, got ",
                num_classes);
    config_.num_classes = num_classes;
    fc_ = std::make_unique<Dense<D>>(config_.num_features, num_classes, true);
    const double bound = std::sqrt(6.0 / static_cast<double>(config_.num_features + num_classes));
    std::vector<float> w(static_cast<size_t>(config_.num_features * num_classes));
    for (size_t i = 0; i < w.size(); ++i)
      w[i] = static_cast<float>(bound * (2.0 * philox_uniform(seed, 0xFCu, 0, i) - 1.0));
    fc_->weight().value = Tensor<D>::from_vector(Shape{config_.num_features, num_classes}, w);
  }

  Tensor<D> forward_features(const Tensor<D>& x, Mode mode) { return features_->forward(x, mode); }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    SKN_REQUIRE(x.shape().rank() == 4 && x.shape().c() == 3, ShapeError, config_.architecture,
                ": expected NHWC RGB images [N x H x W x 3], got ", x.shape().str());
    Tensor<D> pooled = pool_.forward(features_->forward(x, mode), mode);
    if (dropout_) pooled = dropout_->forward(pooled, mode);
    return fc_->forward(pooled, mode);
  }
  Tensor<D> backward(const Tensor<D>& dlogits) override {
    Tensor<D> d = fc_->backward(dlogits);
    if (dropout_) d = dropout_->backward(d);
    // A frozen backbone (set_backbone_trainable(false)) whose input gradient nobody reads needs no
    // backward pass at all: only the head learns. Fine-tuning's frozen epochs then cost a forward
    // pass and the head, not a whole training step.
    if (!input_grad_ && !features_trainable()) return Tensor<D>();
    return features_->backward(pool_.backward(d));
  }
  std::string name() const override { return config_.architecture; }
  Shape output_shape(const Shape& in) const override {
    return Shape{features_->output_shape(in).n(), config_.num_classes};
  }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    features_->collect_parameters(prefix, out);
    fc_->collect_parameters(prefix + config_.classifier_name + ".", out);
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    features_->collect_buffers(prefix, out);
  }
  void set_rng(uint64_t seed, uint32_t& next_stream) override {
    features_->set_rng(seed, next_stream);
    if (dropout_) dropout_->set_rng(seed, next_stream);
  }
  // set_input_grad(false): backward returns an empty tensor instead of dL/dimages, and the stem
  // convolution skips that work (Trainer does so; keep the default for saliency maps and the like).
  void set_input_grad(bool needed) override {
    input_grad_ = needed;
    features_->set_input_grad(needed);
  }
  void set_step(uint32_t step) override {
    features_->set_step(step);
    if (dropout_) dropout_->set_step(step);
  }

  // Freeze or unfreeze everything but the classifier (fine-tuning a pretrained backbone).
  void set_backbone_trainable(bool trainable) {
    std::vector<NamedParameter<D>> ps;
    features_->collect_parameters("", ps);
    for (auto& p : ps) p.param->trainable = trainable;
  }

  // Whether any backbone parameter is trainable (asked each backward: callers may also freeze
  // parameters one by one through parameters()).
  bool features_trainable() {
    std::vector<NamedParameter<D>> ps;
    features_->collect_parameters("", ps);
    for (auto& p : ps)
      if (p.param->trainable) return true;
    return false;
  }

  const ModelConfig& config() const { return config_; }
  int64_t num_features() const { return config_.num_features; }
  int64_t num_classes() const { return config_.num_classes; }
  Sequential<D>& features() { return *features_; }
  Dense<D>& head() { return *fc_; }

  // Must be called by builders that want dropout before the classifier.
  void set_head_dropout(float rate) {
    config_.dropout = rate;
    dropout_ = rate > 0 ? std::make_unique<Dropout<D>>(rate) : nullptr;
  }

 private:
  ModelConfig config_;
  std::unique_ptr<Sequential<D>> features_;
  GlobalAvgPool<D> pool_{false};
  std::unique_ptr<Dropout<D>> dropout_;
  std::unique_ptr<Dense<D>> fc_;
  bool input_grad_ = true;  // backward returns dL/dimages (set_input_grad)
};

}  // namespace skinnet
