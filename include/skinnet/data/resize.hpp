#pragma once
// Resizing 8-bit RGB images to a model's input size.
//
//  - Bilinear: each output pixel centre (x + 0.5) maps to source coordinate (x + 0.5) * in/out - 0.5
//    (half-pixel centres, as OpenCV INTER_LINEAR and TF2's resize), clamped at the borders. Good for
//    enlarging and small changes of size; it aliases when shrinking a lot.
//  - Area: each output pixel is the exact average of the source area it covers (a box filter with
//    fractional weights at the edges, as OpenCV INTER_AREA). The right filter for shrinking a 600x450
//    dermoscopy photo to 224x224: every source pixel contributes, so fine structures do not alias.
//  - Auto: area when either side shrinks, bilinear otherwise. What the loader uses.
// Both filters are separable: a horizontal pass into float rows, then a vertical pass, rounding once.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/image.hpp"

namespace skinnet {

enum class ResizeMode { Bilinear, Area, Auto };

inline ResizeMode parse_resize_mode(const std::string& s) {
  if (s == "bilinear") return ResizeMode::Bilinear;
  if (s == "area") return ResizeMode::Area;
  if (s == "auto") return ResizeMode::Auto;
  throw ValueError("resize mode '" + s + "': expected bilinear, area or auto");
}

namespace resize_detail {

// One output sample = sum of weights[k] * source[first + k].
struct Taps {
  int first = 0;
  std::vector<float> weights;
};

inline std::vector<Taps> bilinear_taps(int in, int out) {
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    double s = (o + 0.5) * scale - 0.5;
    s = std::clamp(s, 0.0, static_cast<double>(in - 1));
    const int i0 = static_cast<int>(std::floor(s));
    const int i1 = std::min(i0 + 1, in - 1);
    const float f = static_cast<float>(s - i0);
    Taps& t = taps[static_cast<std::size_t>(o)];
    t.first = i0;
    if (i1 == i0) t.weights = {1.0f};
    else t.weights = {1.0f - f, f};
  }
  return taps;
}

inline std::vector<Taps> area_taps(int in, int out) {
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / out;
  for (int o = 0; o < out; ++o) {
    const double lo = o * scale, hi = (o + 1) * scale;
    const int first = static_cast<int>(std::floor(lo));
    const int last = std::min(in - 1, static_cast<int>(std::ceil(hi)) - 1);
    Taps& t = taps[static_cast<std::size_t>(o)];
    t.first = first;
    for (int i = first; i <= last; ++i) {
      const double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
      t.weights.push_back(static_cast<float>(std::max(0.0, overlap) / scale));
    }
  }
  return taps;
}

}  // namespace resize_detail

inline Image resize(const Image& src, int out_w, int out_h, ResizeMode mode = ResizeMode::Auto) {
  using namespace resize_detail;
  SKN_REQUIRE(!src.empty() && src.width > 0 && src.height > 0, ValueError, "resize: empty source image");
  SKN_REQUIRE(out_w > 0 && out_h > 0, ValueError, "resize: output size ", out_w, "x", out_h, " must be positive");
  if (out_w == src.width && out_h == src.height) return src;
  if (mode == ResizeMode::Auto)
    mode = (out_w < src.width || out_h < src.height) ? ResizeMode::Area : ResizeMode::Bilinear;
  const auto tx = mode == ResizeMode::Area ? area_taps(src.width, out_w) : bilinear_taps(src.width, out_w);
  const auto ty = mode == ResizeMode::Area ? area_taps(src.height, out_h) : bilinear_taps(src.height, out_h);
  constexpr int C = Image::kChannels;

  // Horizontal pass: src.height rows of out_w pixels, in float.
  std::vector<float> rows(static_cast<std::size_t>(src.height) * out_w * C);
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* in = src.at(0, y);
    float* out = rows.data() + static_cast<std::size_t>(y) * out_w * C;
    for (int x = 0; x < out_w; ++x) {
      const Taps& t = tx[static_cast<std::size_t>(x)];
      float acc[C] = {0, 0, 0};
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const uint8_t* p = in + (static_cast<std::size_t>(t.first) + k) * C;
        for (int c = 0; c < C; ++c) acc[c] += t.weights[k] * p[c];
      }
      for (int c = 0; c < C; ++c) out[x * C + c] = acc[c];
    }
  }
  // Vertical pass, rounding to the nearest 8-bit value.
  Image dst(out_w, out_h);
  const std::size_t row_len = static_cast<std::size_t>(out_w) * C;
  for (int y = 0; y < out_h; ++y) {
    const Taps& t = ty[static_cast<std::size_t>(y)];
    uint8_t* out = dst.at(0, y);
    for (std::size_t i = 0; i < row_len; ++i) {
      float acc = 0;
      for (std::size_t k = 0; k < t.weights.size(); ++k)
        acc += t.weights[k] * rows[(static_cast<std::size_t>(t.first) + k) * row_len + i];
      out[i] = static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
    }
  }
  return dst;
}

}  // namespace skinnet
