#pragma once
// Training-time augmentation, specified as text so it can live on a command line and in a model file:
//   hflip,vflip,rot90,rotate=30,shift=0.1,shear=0.15,zoom=0.1,brightness=0.2,contrast=0.2,hue=0.05,
//   random_resized_crop=0.6
// Meaning of each item (every random choice is uniform):
//   hflip / vflip          mirror with probability 1/2
//   rot90                  0, 1, 2 or 3 quarter turns (square outputs only)
//   rotate=D               rotation by an angle in [-D, D] degrees
//   shift=F                translation by up to F of the width / height, independently per axis
//   shear=S                horizontal shear x' = x + s*y with s in [-S, S]. Note: Keras' shear_range is an
//                          angle in degrees; here it is the shear factor (0.15 ~ 8.5 degrees).
//   zoom=Z                 scale in [1-Z, 1+Z] (above 1 the lesion looks larger)
//   random_resized_crop=A  a crop covering a fraction in [A, 1] of the image area with aspect ratio in
//                          [3/4, 4/3] (torchvision's RandomResizedCrop), stretched to the output size
//   brightness=B           pixel values times a factor in [1-B, 1+B]
//   contrast=C             distance from the image's mean grey level times a factor in [1-C, 1+C]
//   hue=H                  hue rotated by a fraction in [-H, H] of the colour circle (HSV)
// The continuous geometric items are composed into one affine map, applied with bilinear sampling and
// edge replication ("nearest" fill, as Keras' default) in a single pass; flips and quarter turns are then
// applied exactly (no resampling). Colour items follow, in the order brightness, contrast, hue, and
// values are clamped to [0, 255]. The output is float RGB in [0, 255], ready for normalise().
//
// Determinism: the parameters of one image are drawn from Philox (stream kAugment, step = epoch,
// index = position * 16 + parameter), so they depend only on (seed, epoch, position in the epoch),
// never on the thread that draws them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/dihedral.hpp"
#include "skinnet/data/image.hpp"
#include "skinnet/data/random.hpp"

namespace skinnet {

struct AugmentSpec {
  bool hflip = false, vflip = false, rot90 = false;
  float rotate = 0, shift = 0, shear = 0, zoom = 0;
  float crop = 0;  // random_resized_crop minimum area fraction; 0 = off
  float brightness = 0, contrast = 0, hue = 0;

  bool continuous_geometry() const { return rotate > 0 || shift > 0 || shear > 0 || zoom > 0 || crop > 0; }
  bool colour() const { return brightness > 0 || contrast > 0 || hue > 0; }
  bool empty() const { return !hflip && !vflip && !rot90 && !continuous_geometry() && !colour(); }

  // The canonical text form (parse_augment(str()) == *this).
  std::string str() const {
    std::ostringstream s;
    auto item = [&](const char* name, float v) {
      if (v > 0) s << (s.tellp() > 0 ? "," : "") << name << "=" << v;
    };
    auto flag = [&](const char* name, bool on) {
      if (on) s << (s.tellp() > 0 ? "," : "") << name;
    };
    flag("hflip", hflip);
    flag("vflip", vflip);
    flag("rot90", rot90);
    item("rotate", rotate);
    item("shift", shift);
    item("shear", shear);
    item("zoom", zoom);
    item("brightness", brightness);
    item("contrast", contrast);
    item("hue", hue);
    item("random_resized_crop", crop);
    const std::string r = s.str();
    return r.empty() ? "none" : r;
  }
};

inline AugmentSpec parse_augment(const std::string& text) {
  AugmentSpec a;
  if (text.empty() || text == "none") return a;
  std::vector<std::string> seen;
  std::stringstream ss(text);
  std::string item;
  const char* known = "hflip, vflip, rot90, rotate=, shift=, shear=, zoom=, brightness=, contrast=, hue=, random_resized_crop=";
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    SKN_REQUIRE(!item.empty(), ValueError, "augmentation '", text, "': empty item");
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    SKN_REQUIRE(std::find(seen.begin(), seen.end(), key) == seen.end(), ValueError, "augmentation '", text, "': '", key,
                "' given twice");
    seen.push_back(key);
    if (key == "hflip" || key == "vflip" || key == "rot90") {
      SKN_REQUIRE(eq == std::string::npos, ValueError, "augmentation '", text, "': '", key, "' takes no value");
      (key == "hflip" ? a.hflip : key == "vflip" ? a.vflip : a.rot90) = true;
      continue;
    }
    SKN_REQUIRE(eq != std::string::npos, ValueError, "augmentation '", text, "': unknown item '", item, "' (known: ", known, ")");
    const std::string value = item.substr(eq + 1);
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    SKN_REQUIRE(!value.empty() && end && *end == '\0' && std::isfinite(v), ValueError, "augmentation '", text, "': '", key,
                "' needs a number, got '", value, "'");
    auto set = [&](float& field, double lo, double hi, bool lo_open) {
      SKN_REQUIRE((lo_open ? v > lo : v >= lo) && v <= hi, ValueError, "augmentation '", text, "': ", key, "=", value,
                  " is outside ", lo_open ? "(" : "[", lo, ", ", hi, "]");
      field = static_cast<float>(v);
    };
    if (key == "rotate") set(a.rotate, 0, 180, false);
    else if (key == "shift") set(a.shift, 0, 0.5, false);
    else if (key == "shear") set(a.shear, 0, 1, false);
    else if (key == "zoom") set(a.zoom, 0, 0.9, false);
    else if (key == "brightness") set(a.brightness, 0, 1, false);
    else if (key == "contrast") set(a.contrast, 0, 1, false);
    else if (key == "hue") set(a.hue, 0, 0.5, false);
    else if (key == "random_resized_crop") set(a.crop, 0, 1, true);
    else throw ValueError(detail::concat("augmentation '", text, "': unknown item '", key, "' (known: ", known, ")"));
  }
  return a;
}

// The random parameters of one image, drawn from (seed, epoch, position).
struct AugmentDraw {
  DihedralView view;
  bool vflip = false;
  double rotate_rad = 0, shift_x = 0, shift_y = 0, shear = 0, zoom = 1;
  double crop_w = 1, crop_h = 1, crop_cx = 0, crop_cy = 0;  // in normalised [-1, 1] coordinates
  float brightness = 1, contrast = 1, hue = 0;
};

inline AugmentDraw draw_augment(const AugmentSpec& a, uint64_t seed, uint32_t epoch, uint64_t position) {
  using data_rng::kAugment;
  auto u = [&](int k) { return static_cast<double>(data_rng::uniform(seed, kAugment, epoch, position * 16 + k)); };
  auto sym = [&](int k, double r) { return (2 * u(k) - 1) * r; };  // uniform in [-r, r)
  AugmentDraw d;
  if (a.hflip) d.view.hflip = u(0) < 0.5;
  if (a.vflip) d.vflip = u(1) < 0.5;
  if (a.rot90) d.view.quarter_turns = std::min(3, static_cast<int>(u(2) * 4));
  if (a.rotate > 0) d.rotate_rad = sym(3, a.rotate) * M_PI / 180.0;
  if (a.shift > 0) {
    d.shift_x = sym(4, a.shift);
    d.shift_y = sym(5, a.shift);
  }
  if (a.shear > 0) d.shear = sym(6, a.shear);
  if (a.zoom > 0) d.zoom = 1 + sym(7, a.zoom);
  if (a.crop > 0) {
    const double area = a.crop + (1 - a.crop) * u(8);
    const double log_r = std::log(3.0 / 4.0) + (std::log(4.0 / 3.0) - std::log(3.0 / 4.0)) * u(9);
    d.crop_w = std::min(1.0, std::sqrt(area * std::exp(log_r)));
    d.crop_h = std::min(1.0, std::sqrt(area / std::exp(log_r)));
    d.crop_cx = sym(10, 1 - d.crop_w);
    d.crop_cy = sym(11, 1 - d.crop_h);
  }
  if (a.brightness > 0) d.brightness = static_cast<float>(1 + sym(12, a.brightness));
  if (a.contrast > 0) d.contrast = static_cast<float>(1 + sym(13, a.contrast));
  if (a.hue > 0) d.hue = static_cast<float>(sym(14, a.hue));
  return d;
}

namespace augment_detail {

// Hue rotation of one RGB pixel (values 0..255) through HSV.
inline void rotate_hue(float* p, float shift) {
  const float r = p[0], g = p[1], b = p[2];
  const float mx = std::max({r, g, b}), mn = std::min({r, g, b});
  const float delta = mx - mn;
  if (delta <= 0) return;  // grey: no hue
  float h;
  if (mx == r) h = (g - b) / delta;
  else if (mx == g) h = 2 + (b - r) / delta;
  else h = 4 + (r - g) / delta;
  h = h / 6 + shift;
  h -= std::floor(h);
  const float s = delta / mx, v = mx;
  const float hh = h * 6;
  const int sector = std::min(5, static_cast<int>(hh));
  const float f = hh - static_cast<float>(sector);
  const float pp = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (sector) {
    case 0: p[0] = v; p[1] = t; p[2] = pp; break;
    case 1: p[0] = q; p[1] = v; p[2] = pp; break;
    case 2: p[0] = pp; p[1] = v; p[2] = t; break;
    case 3: p[0] = pp; p[1] = q; p[2] = v; break;
    case 4: p[0] = t; p[1] = pp; p[2] = v; break;
    default: p[0] = v; p[1] = pp; p[2] = q; break;
  }
}

}  // namespace augment_detail

// Writes the augmented image into `out` (out_h * out_w * 3 floats, RGB 0..255). `src` is the decoded
// (usually already resized) image; when no continuous geometry is drawn and sizes match, pixels are
// copied exactly.
inline void augment_into(const Image& src, const AugmentDraw& d, int out_w, int out_h, float* out) {
  constexpr int C = Image::kChannels;
  const bool turns = d.view.quarter_turns % 2 != 0;
  SKN_REQUIRE(!turns || out_w == out_h, ValueError, "augment: rot90 needs a square output, got ", out_w, "x", out_h);
  const std::size_t n = static_cast<std::size_t>(out_w) * out_h * C;
  // A vertical flip is a half turn followed by a horizontal flip.
  DihedralView view = d.view;
  if (d.vflip) {
    view.quarter_turns = (view.quarter_turns + 2) % 4;
    view.hflip = !view.hflip;
  }
  // Resampled pixels go straight to `out` unless a symmetry still has to permute them.
  std::vector<float> scratch(view.identity() ? 0 : n);
  float* geo = view.identity() ? out : scratch.data();
  const bool affine = d.rotate_rad != 0 || d.shift_x != 0 || d.shift_y != 0 || d.shear != 0 || d.zoom != 1 ||
                      d.crop_w != 1 || d.crop_h != 1;
  if (!affine && src.width == out_w && src.height == out_h) {
    for (std::size_t i = 0; i < n; ++i) geo[i] = src.pixels[i];
  } else {
    // Output pixel centre -> normalised (u, v) in (-1, 1) -> source (su, sv) -> source pixel. The chain
    // crop -> zoom -> shear -> rotate -> shift is affine, so it is evaluated once on three points to get
    // its matrix, and each pixel's source position is then a linear function of (x, y).
    const double cr = std::cos(d.rotate_rad), sr = std::sin(d.rotate_rad);
    auto chain = [&](double u, double v, double& su, double& sv) {
      u = u * d.crop_w + d.crop_cx;
      v = v * d.crop_h + d.crop_cy;
      u /= d.zoom;
      v /= d.zoom;
      u += d.shear * v;
      su = cr * u - sr * v - 2 * d.shift_x;
      sv = sr * u + cr * v - 2 * d.shift_y;
    };
    double o_u, o_v, x_u, x_v, y_u, y_v;
    chain(0, 0, o_u, o_v);
    chain(1, 0, x_u, x_v);
    chain(0, 1, y_u, y_v);
    x_u -= o_u, x_v -= o_v, y_u -= o_u, y_v -= o_v;
    // Source pixel coordinate = ((s + 1) / 2) * size - 0.5, with u = (x + 0.5) * 2 / out_w - 1.
    const double kx = src.width / 2.0, ky = src.height / 2.0;
    const double du = 2.0 / out_w, dv = 2.0 / out_h;
    const float fx_dx = static_cast<float>(x_u * du * kx), fy_dx = static_cast<float>(x_v * du * ky);
    const float max_x = static_cast<float>(src.width - 1), max_y = static_cast<float>(src.height - 1);
    for (int y = 0; y < out_h; ++y) {
      const double v = (y + 0.5) * dv - 1, u0 = 0.5 * du - 1;
      const double su0 = o_u + x_u * u0 + y_u * v, sv0 = o_v + x_v * u0 + y_v * v;
      const float fx0 = static_cast<float>((su0 + 1) * kx - 0.5), fy0 = static_cast<float>((sv0 + 1) * ky - 0.5);
      float* q = geo + static_cast<std::size_t>(y) * out_w * C;
      for (int x = 0; x < out_w; ++x, q += C) {
        const float fx = std::clamp(fx0 + fx_dx * static_cast<float>(x), 0.0f, max_x);
        const float fy = std::clamp(fy0 + fy_dx * static_cast<float>(x), 0.0f, max_y);
        const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
        const int x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
        const float ax = fx - static_cast<float>(x0), ay = fy - static_cast<float>(y0);
        const uint8_t *p00 = src.at(x0, y0), *p01 = src.at(x1, y0), *p10 = src.at(x0, y1), *p11 = src.at(x1, y1);
        for (int c = 0; c < C; ++c) {
          const float top = p00[c] + ax * (p01[c] - p00[c]);
          const float bottom = p10[c] + ax * (p11[c] - p10[c]);
          q[c] = top + ay * (bottom - top);
        }
      }
    }
  }
  // Exact symmetries, from the scratch buffer into `out`.
  if (!view.identity()) apply_dihedral(geo, out_w, out_h, C, view, out);

  if (d.brightness != 1 || d.contrast != 1 || d.hue != 0) {
    const std::size_t pixels = static_cast<std::size_t>(out_w) * out_h;
    if (d.brightness != 1)
      for (std::size_t i = 0; i < n; ++i) out[i] = std::min(255.0f, out[i] * d.brightness);
    if (d.contrast != 1) {
      double grey = 0;  // mean luminance (ITU-R 601 weights, as torchvision's rgb_to_grayscale)
      for (std::size_t i = 0; i < pixels; ++i) grey += 0.299 * out[3 * i] + 0.587 * out[3 * i + 1] + 0.114 * out[3 * i + 2];
      const float m = static_cast<float>(grey / static_cast<double>(pixels));
      for (std::size_t i = 0; i < n; ++i) out[i] = std::clamp(m + (out[i] - m) * d.contrast, 0.0f, 255.0f);
    }
    if (d.hue != 0)
      for (std::size_t i = 0; i < pixels; ++i) augment_detail::rotate_hue(out + 3 * i, d.hue);
    for (std::size_t i = 0; i < n; ++i) out[i] = std::clamp(out[i], 0.0f, 255.0f);
  }
}

// Convenience: augment one image to an 8-bit image of the same size (for previews and tests).
inline Image augment_image(const Image& src, const AugmentSpec& a, uint64_t seed, uint32_t epoch, uint64_t position) {
  std::vector<float> buf(src.bytes());
  augment_into(src, draw_augment(a, seed, epoch, position), src.width, src.height, buf.data());
  Image out(src.width, src.height);
  for (std::size_t i = 0; i < buf.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>(std::clamp(std::lround(buf[i]), 0L, 255L));
  return out;
}

}  // namespace skinnet
