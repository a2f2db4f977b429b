#pragma once
// ResNet and SE-ResNet (He et al. 2016; Hu et al. 2018) in timm's layout, so that timm / torchvision
// state_dict keys are our parameter names:
//
//   conv1 7x7/2 (64) -> bn1+ReLU -> maxpool 3x3/2
//   layer1..layer4: [3,4,6,3] Bottleneck (resnet50) or [2,2,2,2] / [3,4,6,3] BasicBlock (18 / 34)
//   global average pool -> fc
//
// Bottleneck (expansion 4), stride on the 3x3 conv ("ResNet v1.5", as torchvision and timm):
//   x ─┬─ conv1 1x1 -> bn1+ReLU -> conv2 3x3/s -> bn2+ReLU -> conv3 1x1 (x4) -> bn3 -> [se] ─┐
//      └─ identity, or downsample = {0: conv 1x1/s, 1: bn} when the shape changes ────────────+─> ReLU
// The SE block (seresnet*) sits after the last BN of the branch, before the addition; its reduced
// width is C/16 rounded to a multiple of 8 (timm's make_divisible), e.g. 256 -> 16, 2048 -> 128.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/pool.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/se_block.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/classifier.hpp"
#include "skinnet/models/init.hpp"
#include "skinnet/models/options.hpp"

namespace skinnet {

struct ResNetSpec {
  std::string name;
  bool bottleneck;
  std::vector<int> blocks;  // per stage
  bool se;
};

// timm's make_divisible: round v to the nearest multiple of `divisor`, never below it and never more
// than 10% below v.
inline int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + static_cast<double>(divisor) / 2) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * v) r += divisor;
  return r;
}

namespace resnet_detail {

inline int64_t scaled(int64_t channels, double width) {
  return width == 1.0 ? channels : std::max<int64_t>(1, static_cast<int64_t>(std::lround(channels * width)));
}

template <class D>
ModulePtr<D> make_block(bool bottleneck, bool se, int64_t in, int64_t planes, int64_t stride, float eps,
                        float mom, bool tf_padding, SeedSequence& seeds) {
  const int64_t out = bottleneck ? planes * 4 : planes;
  const Padding pad3 = tf_padding ? Padding::same() : Padding::symmetric(1);
  auto branch = std::make_unique<Sequential<D>>();
  if (bottleneck) {
    branch->add("conv1", std::make_unique<Conv2D<D>>(in, planes, 1, 1, Padding::valid(), false, seeds.next()));
    branch->add("bn1", std::make_unique<BatchNorm<D>>(planes, eps, mom, Act::ReLU));
    branch->add("conv2", std::make_unique<Conv2D<D>>(planes, planes, 3, stride, pad3, false, seeds.next()));
    branch->add("bn2", std::make_unique<BatchNorm<D>>(planes, eps, mom, Act::ReLU));
    branch->add("conv3", std::make_unique<Conv2D<D>>(planes, out, 1, 1, Padding::valid(), false, seeds.next()));
    branch->add("bn3", std::make_unique<BatchNorm<D>>(out, eps, mom, Act::None));
  } else {
    branch->add("conv1", std::make_unique<Conv2D<D>>(in, planes, 3, stride, pad3, false, seeds.next()));
    branch->add("bn1", std::make_unique<BatchNorm<D>>(planes, eps, mom, Act::ReLU));
    branch->add("conv2", std::make_unique<Conv2D<D>>(planes, out, 3, 1, pad3, false, seeds.next()));
    branch->add("bn2", std::make_unique<BatchNorm<D>>(out, eps, mom, Act::None));
  }
  if (se) branch->add("se", std::make_unique<SEBlock<D>>(out, make_divisible(out / 16.0), Act::ReLU, SENames::resnet()));
  ModulePtr<D> shortcut;
  if (stride != 1 || in != out) {
    auto ds = std::make_unique<Sequential<D>>();
    ds->add("0", std::make_unique<Conv2D<D>>(in, out, 1, stride, Padding::valid(), false, seeds.next()));
    ds->add("1", std::make_unique<BatchNorm<D>>(out, eps, mom, Act::None));
    shortcut = std::move(ds);
  }
  return std::make_unique<Residual<D>>(std::move(branch), std::move(shortcut), Act::ReLU, "", "downsample");
}

}  // namespace resnet_detail

template <class D>
std::unique_ptr<Classifier<D>> make_resnet(const ResNetSpec& spec, int64_t num_classes, const ModelOptions& opt) {
  using namespace resnet_detail;
  SeedSequence seeds(opt.seed);
  const float eps = opt.bn_eps > 0 ? opt.bn_eps : 1e-5f;
  const float mom = opt.bn_momentum >= 0 ? opt.bn_momentum : 0.1f;
  const bool tf = resolve_tf_padding(opt, false);
  const double w = opt.width_multiplier;
  auto f = std::make_unique<Sequential<D>>();
  const int64_t stem = scaled(64, w);
  f->add("conv1", std::make_unique<Conv2D<D>>(3, stem, 7, 2, tf ? Padding::same() : Padding::symmetric(3), false,
                                              seeds.next()));
  f->add("bn1", std::make_unique<BatchNorm<D>>(stem, eps, mom, Act::ReLU));
  f->add("maxpool", std::make_unique<MaxPool2D<D>>(3, 2, tf ? Padding::same() : Padding::symmetric(1)));
  int64_t in = stem;
  const int64_t planes[4] = {64, 128, 256, 512};
  for (size_t s = 0; s < spec.blocks.size(); ++s) {
    auto stage = std::make_unique<Sequential<D>>();
    const int64_t p = scaled(planes[s], w);
    for (int b = 0; b < spec.blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage->add(make_block<D>(spec.bottleneck, spec.se, in, p, stride, eps, mom, tf, seeds));
      in = spec.bottleneck ? p * 4 : p;
    }
    f->add("layer" + std::to_string(s + 1), std::move(stage));
  }
  ModelConfig cfg;
  cfg.architecture = spec.name;
  cfg.num_classes = num_classes;
  cfg.input_size = opt.image_size > 0 ? opt.image_size : 224;
  cfg.normalization = "torch";
  cfg.num_features = in;
  cfg.classifier_name = "fc";
  auto model = std::make_unique<Classifier<D>>(cfg, std::move(f), seeds.next());
  model->set_head_dropout(opt.dropout > 0 ? opt.dropout : 0.0f);
  init_zero_weights(*model, seeds.next());
  return model;
}

inline ResNetSpec resnet_spec(const std::string& name) {
  if (name == "resnet18") return {name, false, {2, 2, 2, 2}, false};
  if (name == "resnet34") return {name, false, {3, 4, 6, 3}, false};
  if (name == "resnet50") return {name, true, {3, 4, 6, 3}, false};
  if (name == "seresnet18") return {name, false, {2, 2, 2, 2}, true};
  if (name == "seresnet34") return {name, false, {3, 4, 6, 3}, true};
  if (name == "seresnet50") return {name, true, {3, 4, 6, 3}, true};
  throw ValueError("unknown ResNet variant '" + name + "'");
}

}  // namespace skinnet
