#pragma once
// SimpleCNN: the plain baseline of the published comparisons ("CNN" row): four stages of
// 3x3 conv -> BN+ReLU -> 2x2 max pool (32, 64, 128, 256 channels), global average pool, dropout, fc.
// Small enough to train in minutes on two CPU cores; the demo and many tests use it.
#include <memory>
#include <string>

#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/pool.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/classifier.hpp"
#include "skinnet/models/init.hpp"
#include "skinnet/models/options.hpp"
#include "skinnet/models/resnet.hpp"  // resnet_detail::scaled

namespace skinnet {

template <class D>
std::unique_ptr<Classifier<D>> make_simple_cnn(int64_t num_classes, const ModelOptions& opt) {
  SeedSequence seeds(opt.seed);
  const float eps = opt.bn_eps > 0 ? opt.bn_eps : 1e-3f;
  const float momentum = opt.bn_momentum >= 0 ? opt.bn_momentum : 0.1f;
  auto f = std::make_unique<Sequential<D>>();
  int64_t in = 3;
  const int64_t widths[4] = {32, 64, 128, 256};
  for (int s = 0; s < 4; ++s) {
    const int64_t out = resnet_detail::scaled(widths[s], opt.width_multiplier);
    auto stage = std::make_unique<Sequential<D>>();
    stage->add("conv", std::make_unique<Conv2D<D>>(in, out, 3, 1, Padding::same(), false, seeds.next()));
    stage->add("bn", std::make_unique<BatchNorm<D>>(out, eps, momentum, Act::ReLU));
    stage->add("pool", std::make_unique<MaxPool2D<D>>(2, 2, Padding::valid()));
    f->add("stage" + std::to_string(s + 1), std::move(stage));
    in = out;
  }
  ModelConfig cfg;
  cfg.architecture = "simple_cnn";
  cfg.num_classes = num_classes;
  cfg.input_size = opt.image_size > 0 ? opt.image_size : 64;
  cfg.normalization = "torch";
  cfg.num_features = in;
  cfg.classifier_name = "fc";
  auto model = std::make_unique<Classifier<D>>(cfg, std::move(f), seeds.next());
  model->set_head_dropout(opt.dropout >= 0 ? opt.dropout : 0.2f);
  init_zero_weights(*model, seeds.next());
  return model;
}

}  // namespace skinnet
