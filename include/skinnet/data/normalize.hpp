#pragma once
// Input normalisation presets: the pixel scaling each family of pretrained weights was trained with.
//   tf     x / 127.5 - 1, range [-1, 1]                (Keras "tf" mode: Xception, Inception)
//   caffe  RGB -> BGR, minus the ImageNet mean in BGR   (Keras "caffe" mode: ResNet50 from Caffe)
//          (103.939, 116.779, 123.68), no scaling
//   torch  x / 255, minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225), RGB
//          (torchvision / timm ImageNet weights: SE-ResNet, EfficientNet in timm)
//   raw    unchanged 0..255 (Keras EfficientNet, which normalises inside the model)
// The preset is saved in the model file so evaluation feeds images exactly as training did.
#include <cstdint>
#include <string>

#include "skinnet/core/error.hpp"

namespace skinnet {

enum class NormPreset { Tf, Caffe, Torch, Raw };

inline NormPreset parse_norm(const std::string& s) {
  if (s == "tf") return NormPreset::Tf;
  if (s == "caffe") return NormPreset::Caffe;
  if (s == "torch") return NormPreset::Torch;
  if (s == "raw") return NormPreset::Raw;
  throw ValueError("normalisation '" + s + "': expected tf, caffe, torch or raw");
}

inline const char* norm_name(NormPreset p) {
  switch (p) {
    case NormPreset::Tf: return "tf";
    case NormPreset::Caffe: return "caffe";
    case NormPreset::Torch: return "torch";
    default: return "raw";
  }
}

// In place on `pixels` interleaved RGB values in [0, 255].
inline void normalize_pixels(float* x, int64_t pixels, NormPreset p) {
  switch (p) {
    case NormPreset::Tf:
      for (int64_t i = 0; i < pixels * 3; ++i) x[i] = x[i] / 127.5f - 1.0f;
      break;
    case NormPreset::Caffe:
      for (int64_t i = 0; i < pixels; ++i) {
        float* q = x + 3 * i;
        const float r = q[0], g = q[1], b = q[2];
        q[0] = b - 103.939f;
        q[1] = g - 116.779f;
        q[2] = r - 123.68f;
      }
      break;
    case NormPreset::Torch: {
      const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
      for (int64_t i = 0; i < pixels; ++i)
        for (int c = 0; c < 3; ++c) x[3 * i + c] = (x[3 * i + c] / 255.0f - mean[c]) / stdv[c];
      break;
    }
    case NormPreset::Raw:
      break;
  }
}

}  // namespace skinnet
