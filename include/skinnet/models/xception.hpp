#pragma once
// Xception (Chollet 2017) as Keras applications defines it, with timm's legacy_xception names.
//
//   entry   conv1 3x3/2 valid (32) -> bn1+ReLU -> conv2 3x3 valid (64) -> bn2+ReLU
//           block1..3: separable blocks 128, 256, 728, each halving the resolution with a 3x3/2 max
//           pool, shortcut = strided 1x1 conv + BN ("skip", "skipbn")
//   middle  block4..11: 8 x [ReLU -> sep 728 -> BN] x 3, identity shortcut
//   exit    block12: ReLU -> sep 728 -> BN -> ReLU -> sep 1024 -> BN -> max pool (+ 1x1/2 shortcut)
//           conv3 = sep 1536 -> bn3+ReLU -> conv4 = sep 2048 -> bn4+ReLU -> global pool -> fc
//
// A separable convolution (layers/separable_conv2d.hpp) is a depthwise 3x3 followed by a pointwise 1x1:
// about 1/9 of a dense 3x3's multiply-adds at these widths. No convolution has a bias; BN eps 1e-3.
// Inside "rep" the children keep timm's indices (ReLU, SeparableConv2d, BN, ...), even though each ReLU
// is fused into the preceding BN where there is one.
#include <memory>
#include <string>

#include "skinnet/layers/activation.hpp"
#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/pool.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/separable_conv2d.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/classifier.hpp"
#include "skinnet/models/init.hpp"
#include "skinnet/models/options.hpp"
#include "skinnet/models/resnet.hpp"  // resnet_detail::scaled

namespace skinnet {

namespace xception_detail {

// timm's Block(in, out, reps, stride, start_with_relu, grow_first) with its child indices.
template <class D>
ModulePtr<D> make_block(int64_t in, int64_t out, int reps, int64_t stride, bool start_with_relu, bool grow_first,
                        float eps, float mom, bool tf, SeedSequence& seeds) {
  auto rep = std::make_unique<Sequential<D>>();
  int index = 0;
  // The channel plan: grow_first widens at the first separable conv, otherwise at the last.
  for (int r = 0; r < reps; ++r) {
    const int64_t cin = (grow_first ? (r == 0 ? in : out) : in);
    const int64_t cout = (grow_first ? out : (r == reps - 1 ? out : in));
    const bool relu_before = r > 0 || start_with_relu;
    if (relu_before) {
      // A ReLU right after a BN is fused into it (same values, one pass fewer); only a leading ReLU
      // on the block input stays a layer of its own.
      if (r == 0) rep->add(std::to_string(index), std::make_unique<Activation<D>>(Act::ReLU));
      ++index;
    }
    rep->add(std::to_string(index++),
             std::make_unique<SeparableConv2D<D>>(cin, cout, 3, 1, Padding::same(), false, seeds.next()));
    const bool relu_follows = r + 1 < reps;
    rep->add(std::to_string(index++), std::make_unique<BatchNorm<D>>(cout, eps, mom, relu_follows ? Act::ReLU : Act::None));
  }
  if (stride != 1)
    rep->add(std::to_string(index++), std::make_unique<MaxPool2D<D>>(3, stride, tf ? Padding::same() : Padding::symmetric(1)));
  ModulePtr<D> shortcut;
  if (out != in || stride != 1) {
    auto skip = std::make_unique<Sequential<D>>();
    skip->add("skip", std::make_unique<Conv2D<D>>(in, out, 1, stride, Padding::valid(), false, seeds.next()));
    skip->add("skipbn", std::make_unique<BatchNorm<D>>(out, eps, mom, Act::None));
    shortcut = std::move(skip);
  }
  return std::make_unique<Residual<D>>(std::move(rep), std::move(shortcut), Act::None, "rep", "");
}

}  // namespace xception_detail

template <class D>
std::unique_ptr<Classifier<D>> make_xception(int64_t num_classes, const ModelOptions& opt) {
  using namespace xception_detail;
  using resnet_detail::scaled;
  SeedSequence seeds(opt.seed);
  const float eps = opt.bn_eps > 0 ? opt.bn_eps : 1e-3f;
  const float mom = opt.bn_momentum >= 0 ? opt.bn_momentum : 0.01f;
  const bool tf = resolve_tf_padding(opt, true);
  const double w = opt.width_multiplier;
  const int64_t c32 = scaled(32, w), c64 = scaled(64, w), c128 = scaled(128, w), c256 = scaled(256, w),
                c728 = scaled(728, w), c1024 = scaled(1024, w), c1536 = scaled(1536, w), c2048 = scaled(2048, w);
  auto f = std::make_unique<Sequential<D>>();
  f->add("conv1", std::make_unique<Conv2D<D>>(3, c32, 3, 2, Padding::valid(), false, seeds.next()));
  f->add("bn1", std::make_unique<BatchNorm<D>>(c32, eps, mom, Act::ReLU));
  f->add("conv2", std::make_unique<Conv2D<D>>(c32, c64, 3, 1, Padding::valid(), false, seeds.next()));
  f->add("bn2", std::make_unique<BatchNorm<D>>(c64, eps, mom, Act::ReLU));
  f->add("block1", make_block<D>(c64, c128, 2, 2, false, true, eps, mom, tf, seeds));
  f->add("block2", make_block<D>(c128, c256, 2, 2, true, true, eps, mom, tf, seeds));
  f->add("block3", make_block<D>(c256, c728, 2, 2, true, true, eps, mom, tf, seeds));
  for (int b = 4; b <= 11; ++b) f->add("block" + std::to_string(b), make_block<D>(c728, c728, 3, 1, true, true, eps, mom, tf, seeds));
  f->add("block12", make_block<D>(c728, c1024, 2, 2, true, false, eps, mom, tf, seeds));
  f->add("conv3", std::make_unique<SeparableConv2D<D>>(c1024, c1536, 3, 1, Padding::same(), false, seeds.next()));
  f->add("bn3", std::make_unique<BatchNorm<D>>(c1536, eps, mom, Act::ReLU));
  f->add("conv4", std::make_unique<SeparableConv2D<D>>(c1536, c2048, 3, 1, Padding::same(), false, seeds.next()));
  f->add("bn4", std::make_unique<BatchNorm<D>>(c2048, eps, mom, Act::ReLU));
  ModelConfig cfg;
  cfg.architecture = "xception";
  cfg.num_classes = num_classes;
  cfg.input_size = opt.image_size > 0 ? opt.image_size : 299;
  cfg.normalization = "tf";
  cfg.num_features = c2048;
  cfg.classifier_name = "fc";
  auto model = std::make_unique<Classifier<D>>(cfg, std::move(f), seeds.next());
  model->set_head_dropout(opt.dropout > 0 ? opt.dropout : 0.0f);
  init_zero_weights(*model, seeds.next());
  return model;
}

}  // namespace skinnet
