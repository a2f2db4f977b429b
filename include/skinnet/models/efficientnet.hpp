#pragma once
// EfficientNet-B0...B7 (Tan & Le 2019): one block table plus compound scaling.
//
// B0's stages (MBConv expand ratio, kernel, stride, output channels, repeats):
//   stage 0: MBConv1 k3 s1  16 x1     stage 4: MBConv6 k5 s1 112 x3
//   stage 1: MBConv6 k3 s2  24 x2     stage 5: MBConv6 k5 s2 192 x4
//   stage 2: MBConv6 k5 s2  40 x2     stage 6: MBConv6 k3 s1 320 x1
//   stage 3: MBConv6 k3 s2  80 x3
// between a 3x3/2 stem (32) and a 1x1 head conv (1280). Bn uses width w and depth d coefficients:
//   channels  round_filters(c) = c*w rounded to the nearest multiple of 8 (never more than 10% down)
//   repeats   round_repeats(r) = ceil(r*d)
// and a larger default resolution. Every block has SE (ratio 0.25 of its input channels) and
// stochastic depth 0.2 * block_index / total_blocks. Names follow timm: conv_stem, bn1,
// blocks.<stage>.<i>.*, conv_head, bn2, classifier.
#include <cmath>
#include <memory>
#include <string>

#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/mbconv.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/classifier.hpp"
#include "skinnet/models/init.hpp"
#include "skinnet/models/options.hpp"

namespace skinnet {

struct EfficientNetScaling {
  double width, depth;
  int64_t resolution;
  float dropout;
};

// Coefficients of the paper / Keras applications.
inline EfficientNetScaling efficientnet_scaling(int variant) {
  static const EfficientNetScaling table[8] = {
      {1.0, 1.0, 224, 0.2f}, {1.0, 1.1, 240, 0.2f}, {1.1, 1.2, 260, 0.3f}, {1.2, 1.4, 300, 0.3f},
      {1.4, 1.8, 380, 0.4f}, {1.6, 2.2, 456, 0.4f}, {1.8, 2.6, 528, 0.5f}, {2.0, 3.1, 600, 0.5f}};
  SKN_REQUIRE(variant >= 0 && variant <= 7, ValueError, "EfficientNet: variant must be b0..b7, got b", variant);
  return table[variant];
}

inline int64_t round_filters(int64_t filters, double width, int64_t divisor = 8) {
  const double f = static_cast<double>(filters) * width;
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(f + static_cast<double>(divisor) / 2) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * f) r += divisor;
  return r;
}
inline int64_t round_repeats(int64_t repeats, double depth) {
  return static_cast<int64_t>(std::ceil(depth * static_cast<double>(repeats)));
}

struct MBConvStage {
  int64_t expand, kernel, stride, out, repeats;
};
inline const MBConvStage (&efficientnet_b0_stages())[7] {
  static const MBConvStage stages[7] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2}, {6, 5, 2, 40, 2}, {6, 3, 2, 80, 3},
                                        {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4}, {6, 3, 1, 320, 1}};
  return stages;
}

template <class D>
std::unique_ptr<Classifier<D>> make_efficientnet(int variant, int64_t num_classes, const ModelOptions& opt) {
  const EfficientNetScaling sc = efficientnet_scaling(variant);
  const double width = sc.width * opt.width_multiplier;
  SeedSequence seeds(opt.seed);
  const float eps = opt.bn_eps > 0 ? opt.bn_eps : 1e-3f;
  const float momentum = opt.bn_momentum >= 0 ? opt.bn_momentum : 0.01f;  // Keras 0.99
  const bool tf = resolve_tf_padding(opt, true);
  const Act act = opt.activation;
  const float drop_connect = opt.drop_connect >= 0 ? opt.drop_connect : 0.2f;

  auto f = std::make_unique<Sequential<D>>();
  const int64_t stem = round_filters(32, width);
  f->add("conv_stem", std::make_unique<Conv2D<D>>(3, stem, 3, 2, tf ? Padding::same() : Padding::symmetric(1), false,
                                                  seeds.next()));
  f->add("bn1", std::make_unique<BatchNorm<D>>(stem, eps, momentum, act));

  int64_t total_blocks = 0;
  for (const MBConvStage& s : efficientnet_b0_stages()) total_blocks += round_repeats(s.repeats, sc.depth);
  auto blocks = std::make_unique<Sequential<D>>();
  int64_t in = stem, block_index = 0;
  int stage_index = 0;
  for (const MBConvStage& s : efficientnet_b0_stages()) {
    auto stage = std::make_unique<Sequential<D>>();
    const int64_t out = round_filters(s.out, width);
    for (int64_t r = 0; r < round_repeats(s.repeats, sc.depth); ++r) {
      MBConvConfig c;
      c.in_channels = in;
      c.out_channels = out;
      c.kernel = s.kernel;
      c.stride = r == 0 ? s.stride : 1;
      c.expand_ratio = s.expand;
      c.se_ratio = 0.25f;
      c.drop_connect = drop_connect * static_cast<float>(block_index) / static_cast<float>(total_blocks);
      c.act = act;
      c.bn_eps = eps;
      c.bn_momentum = momentum;
      c.tf_padding = tf;
      stage->add(std::make_unique<MBConv<D>>(c, [&] { return seeds.next(); }));
      in = out;
      ++block_index;
    }
    blocks->add(std::to_string(stage_index++), std::move(stage));
  }
  f->add("blocks", std::move(blocks));
  const int64_t head = round_filters(1280, width);
  f->add("conv_head", std::make_unique<Conv2D<D>>(in, head, 1, 1, Padding::valid(), false, seeds.next()));
  f->add("bn2", std::make_unique<BatchNorm<D>>(head, eps, momentum, act));

  ModelConfig cfg;
  cfg.architecture = "efficientnet_b" + std::to_string(variant);
  cfg.num_classes = num_classes;
  cfg.input_size = opt.image_size > 0 ? opt.image_size : sc.resolution;
  cfg.normalization = "torch";
  cfg.num_features = head;
  cfg.classifier_name = "classifier";
  auto model = std::make_unique<Classifier<D>>(cfg, std::move(f), seeds.next());
  model->set_head_dropout(opt.dropout >= 0 ? opt.dropout : sc.dropout);
  init_zero_weights(*model, seeds.next());
  return model;
}

}  // namespace skinnet
