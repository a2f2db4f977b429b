#pragma once
// ModelOptions: what a user may change when creating a zoo model. Negative / zero values mean "the
// architecture's default".
#include <cstdint>
#include <string>

#include "skinnet/cpu/activation.hpp"

namespace skinnet {

struct ModelOptions {
  uint64_t seed = 0;            // initialisation seed (weights are a pure function of it)
  int64_t image_size = 0;       // recorded in the config; 0 = the architecture's default resolution
  float dropout = -1.0f;        // before the classifier; < 0 = default (EfficientNet: 0.2 ... 0.5)
  float drop_connect = -1.0f;   // EfficientNet stochastic depth base rate; < 0 = 0.2
  float bn_eps = -1.0f;         // < 0 = default (ResNet 1e-5, Xception / EfficientNet 1e-3)
  // To run weights trained elsewhere, use that framework's eps: Keras and timm's tf_efficientnet_* 1e-3
  // (the default); torchvision's efficientnet_b0...b4 and timm's efficientnet_* PyTorch's BatchNorm
  // default 1e-5 (torchvision's b5...b7: 1e-3); ResNets 1e-5 everywhere. See docs/architectures.md;
  // tests/cpu/test_crossframework.cpp checks the torchvision pairing.
  // BatchNorm running-average momentum (PyTorch convention: weight of the new batch). < 0 = default
  // (ResNet 0.1, Keras models 0.01 = Keras' 0.99). Short runs want 0.1: with 0.01 the running
  // statistics need hundreds of steps to forget their initial values.
  float bn_momentum = -1.0f;
  // EfficientNet's activation: Swish (the paper) or Mish (a published skin-lesion variant).
  Act activation = Act::Swish;
  // Padding of strided convolutions and pools: true = TensorFlow/Keras "same" (asymmetric when the
  // total is odd); false = PyTorch-style symmetric k/2, matching torchvision/timm weights exactly.
  // Defaults: ResNet false (it is a PyTorch architecture), Xception and EfficientNet true (Keras).
  int tf_padding = -1;          // -1 = default, 0 = false, 1 = true
  // Channel multiplier applied on top of the architecture (e.g. 0.25 for tiny emulated-device tests);
  // 1 = the real network. Any value other than 1 no longer matches published parameter counts.
  double width_multiplier = 1.0;
};

inline bool resolve_tf_padding(const ModelOptions& o, bool architecture_default) {
  return o.tf_padding < 0 ? architecture_default : o.tf_padding != 0;
}

}  // namespace skinnet
