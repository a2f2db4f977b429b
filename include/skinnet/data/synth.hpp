#pragma once
// Synthetic dermoscopy: a deterministic generator of lesion-like images in 7 classes, named after the
// HAM10000 diagnoses whose textbook dermoscopic look each one caricatures. It needs no files, so it is
// the built-in dataset of the demo (`--data synth`) and of the tests, and `skinnet synth` writes it to
// disk as a folder-per-class set. It is a teaching and testing aid, not a model of real lesions:
// accuracy on it says nothing about accuracy on patients.
//
// What separates the classes (each also varies randomly per image, so the task is learnable but not
// trivial):
//   akiec  pink-red, rough scaly texture, white scale flecks, moderately irregular border
//   bcc    pale pink, soft pearly border, thin branching red vessels
//   bkl    light-to-mid brown, sharp "stuck-on" border, ridged (cerebriform) texture, milia-like white dots
//   df     small, symmetric brown ring around a central white patch
//   mel    large, asymmetric, irregular border, several colours (black, dark brown, blue-grey), dark dots
//   nv     round, symmetric, uniform brown with a faint regular pigment network
//   vasc   red-purple lacunae: round red blobs separated by darker septa
// Every pixel is a function of (seed, class, index, size): Philox draws the per-image parameters (stream
// kSynth, step = class, index = image * 64 + parameter) and a hash of the lattice point drives the
// texture noise.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/data/dataset.hpp"
#include "skinnet/data/folder_dataset.hpp"
#include "skinnet/data/image_io.hpp"
#include "skinnet/data/random.hpp"

namespace skinnet {

struct SynthOptions {
  int per_class = 50;
  int image_size = 64;  // 32..224 is the intended range (16..1024 accepted)
  uint64_t seed = 0;
};

inline const std::vector<std::string>& synth_class_names() {
  static const std::vector<std::string> names{"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};
  return names;
}

namespace synth_detail {

inline uint32_t hash(uint64_t seed, int x, int y, uint32_t salt) {
  uint64_t h = seed ^ (static_cast<uint64_t>(static_cast<uint32_t>(x)) * 0x9E3779B97F4A7C15ull) ^
               (static_cast<uint64_t>(static_cast<uint32_t>(y)) * 0xC2B2AE3D27D4EB4Full) ^ (uint64_t{salt} << 32);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

// Smooth value noise in [0, 1] at (x, y) with lattice spacing 1.
inline float value_noise(uint64_t seed, float x, float y, uint32_t salt) {
  const float fx = std::floor(x), fy = std::floor(y);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  auto at = [&](int a, int b) { return static_cast<float>(hash(seed, ix + a, iy + b, salt) >> 8) / 16777216.0f; };
  const float top = at(0, 0) + tx * (at(1, 0) - at(0, 0));
  const float bottom = at(0, 1) + tx * (at(1, 1) - at(0, 1));
  return top + ty * (bottom - top);
}

// Three octaves, in [0, 1].
inline float fractal_noise(uint64_t seed, float x, float y, uint32_t salt) {
  return (value_noise(seed, x, y, salt) * 4 + value_noise(seed, 2 * x, 2 * y, salt + 1) * 2 +
          value_noise(seed, 4 * x, 4 * y, salt + 2)) / 7.0f;
}

struct Rgb {
  float r, g, b;
};
inline Rgb mix(Rgb a, Rgb b, float t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
inline float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3 - 2 * t);
}

// Per-class look.
struct Look {
  Rgb core, edge;
  float radius;        // fraction of half the image
  float irregularity;  // border wobble amplitude
  float asymmetry;     // elongation and colour-centre offset
  float softness;      // border blur width (fraction of radius)
  float texture;       // noise amplitude
};
inline Look look_of(int cls) {
  switch (cls) {
    case 0: return {{200, 105, 100}, {215, 140, 130}, 0.55f, 0.10f, 0.15f, 0.15f, 0.35f};  // akiec
    case 1: return {{220, 160, 165}, {235, 190, 185}, 0.50f, 0.05f, 0.10f, 0.35f, 0.08f};  // bcc
    case 2: return {{150, 105, 65}, {180, 135, 90}, 0.60f, 0.06f, 0.15f, 0.04f, 0.25f};    // bkl
    case 3: return {{130, 85, 60}, {150, 105, 75}, 0.38f, 0.03f, 0.03f, 0.20f, 0.10f};     // df
    case 4: return {{55, 35, 30}, {120, 75, 50}, 0.58f, 0.15f, 0.30f, 0.08f, 0.30f};       // mel
    case 5: return {{125, 80, 50}, {145, 100, 70}, 0.50f, 0.02f, 0.03f, 0.12f, 0.08f};     // nv
    default: return {{165, 35, 65}, {190, 70, 95}, 0.45f, 0.06f, 0.10f, 0.10f, 0.10f};     // vasc
  }
}

}  // namespace synth_detail

// The `index`-th image of class `cls` (0..6, in synth_class_names() order).
inline Image synth_image(int cls, int64_t index, int size, uint64_t seed) {
  using namespace synth_detail;
  SKN_REQUIRE(cls >= 0 && cls < 7, ValueError, "synth_image: class ", cls, " is not in 0..6");
  SKN_REQUIRE(size >= 16 && size <= 1024, ValueError, "synth_image: size ", size, " is not in 16..1024");
  auto u = [&](int k) {
    return data_rng::uniform(seed, data_rng::kSynth, static_cast<uint32_t>(cls), static_cast<uint64_t>(index) * 64 + k);
  };
  auto sym = [&](int k) { return 2 * u(k) - 1; };
  const Look L = look_of(cls);
  const uint64_t img_seed = (seed * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(cls) << 56) ^ static_cast<uint64_t>(index);

  // Per-image variation.
  const Rgb skin{218 + 20 * sym(0), 172 + 20 * sym(1), 150 + 20 * sym(2)};
  const float tint = 0.12f * sym(3);
  auto jitter = [&](Rgb c) { return Rgb{c.r * (1 + tint), c.g * (1 + 0.5f * tint), c.b * (1 - 0.3f * tint)}; };
  const Rgb core = jitter(L.core), edge = jitter(L.edge);
  const float radius = L.radius * (0.85f + 0.3f * u(4));
  const float cx = 0.1f * sym(5), cy = 0.1f * sym(6);
  const float angle = 3.14159265f * u(7);
  const float elong = 1 + L.asymmetry * (0.5f + u(8));
  float wob_amp[5], wob_phase[5];
  for (int k = 0; k < 5; ++k) {
    wob_amp[k] = L.irregularity * (0.4f + u(9 + k)) / (1 + 0.3f * k);
    wob_phase[k] = 6.2831853f * u(14 + k);
  }
  const float off_x = L.asymmetry * sym(19), off_y = L.asymmetry * sym(20);  // colour centre offset
  const float ca = std::cos(angle), sa = std::sin(angle);

  // Structures: positions of dots / blobs in lesion coordinates.
  struct Dot {
    float x, y, r;
  };
  std::vector<Dot> dots;
  const int n_dots = cls == 2 ? 6 : cls == 4 ? 10 : cls == 6 ? 7 : cls == 0 ? 12 : 0;
  for (int k = 0; k < n_dots; ++k) {
    const float rr = 0.75f * std::sqrt(u(21 + 3 * k % 40));
    const float th = 6.2831853f * u(22 + 3 * k % 40);
    const float size_frac = cls == 6 ? 0.22f : cls == 0 ? 0.05f : 0.07f;
    dots.push_back({rr * std::cos(th), rr * std::sin(th), size_frac * (0.6f + 0.8f * u(23 + 3 * k % 40))});
  }

  Image img(size, size);
  const float inv = 2.0f / static_cast<float>(size);
  for (int py = 0; py < size; ++py) {
    for (int px = 0; px < size; ++px) {
      // Image coordinates in [-1, 1], then lesion coordinates (rotated, elongated, scaled by radius).
      const float x = (static_cast<float>(px) + 0.5f) * inv - 1 - cx, y = (static_cast<float>(py) + 0.5f) * inv - 1 - cy;
      const float lx = (ca * x + sa * y) / (radius * elong), ly = (-sa * x + ca * y) / radius;
      const float dist = std::sqrt(lx * lx + ly * ly);
      const float theta = std::atan2(ly, lx);
      float border = 1;
      for (int k = 0; k < 5; ++k) border += wob_amp[k] * std::sin(static_cast<float>(k + 2) * theta + wob_phase[k]);
      const float inside = 1 - smoothstep(border * (1 - L.softness), border * (1 + L.softness * 0.3f), dist);

      // Skin with faint texture; a dark dermoscope vignette in the corners.
      const float skin_noise = fractal_noise(img_seed, static_cast<float>(px) * 8 / size, static_cast<float>(py) * 8 / size, 1);
      Rgb c{skin.r * (0.94f + 0.08f * skin_noise), skin.g * (0.94f + 0.08f * skin_noise),
            skin.b * (0.94f + 0.08f * skin_noise)};
      const float corner = std::sqrt(x * x + y * y);
      const float vignette = 1 - 0.55f * smoothstep(1.15f, 1.45f, corner);

      if (inside > 0) {
        const float dx = lx - off_x, dy = ly - off_y;
        const float t = std::clamp(std::sqrt(dx * dx + dy * dy) / border, 0.0f, 1.0f);
        Rgb l = mix(core, edge, t);
        const float n = fractal_noise(img_seed, lx * 6, ly * 6, 7);
        float shade = 1 + L.texture * (n - 0.5f) * 2;
        switch (cls) {
          case 0: {  // rough scale: high-frequency noise, white flecks
            const float fine = value_noise(img_seed, lx * 24, ly * 24, 11);
            shade += 0.25f * (fine - 0.5f);
            if (fine > 0.82f) l = mix(l, {245, 235, 230}, 0.7f);
            break;
          }
          case 1: {  // branching vessels: thin dark-red lines along noise ridges
            const float v = value_noise(img_seed, lx * 5, ly * 5, 13);
            if (std::abs(v - 0.5f) < 0.025f) l = mix(l, {170, 30, 45}, 0.85f);
            break;
          }
          case 2: {  // cerebriform ridges
            const float ridge = std::sin(lx * 18 + 4 * value_noise(img_seed, lx * 3, ly * 3, 17) * 3.14159f);
            shade += 0.12f * ridge;
            break;
          }
          case 3: {  // central white patch
            l = mix(l, {235, 220, 205}, 1 - smoothstep(0.2f, 0.5f, dist));
            break;
          }
          case 4: {  // multicolour: blue-grey veil region and black blotches
            const float region = fractal_noise(img_seed, lx * 2 + 5, ly * 2 + 5, 19);
            if (region > 0.55f) l = mix(l, {95, 105, 135}, smoothstep(0.55f, 0.7f, region));
            if (region < 0.32f) l = mix(l, {25, 18, 15}, 0.7f);
            break;
          }
          case 5: {  // regular pigment network
            const float net = std::abs(std::sin(lx * 14)) * std::abs(std::sin(ly * 14));
            shade -= 0.12f * (1 - net);
            break;
          }
          default: {  // lacunae: darker septa between blobs (drawn below)
            shade *= 0.85f;
            break;
          }
        }
        for (const Dot& d : dots) {
          const float ddx = lx - d.x, ddy = ly - d.y;
          const float dd = std::sqrt(ddx * ddx + ddy * ddy);
          if (dd < d.r) {
            const Rgb dot_colour = cls == 2 ? Rgb{240, 235, 220} : cls == 6 ? Rgb{200, 30, 60}
                                   : cls == 0 ? Rgb{245, 240, 235} : Rgb{30, 20, 18};
            l = mix(l, dot_colour, 1 - smoothstep(d.r * 0.6f, d.r, dd));
          }
        }
        l = {l.r * shade, l.g * shade, l.b * shade};
        c = mix(c, l, inside);
      }
      uint8_t* q = img.at(px, py);
      auto to8 = [&](float v) { return static_cast<uint8_t>(std::clamp(v * vignette + 0.5f, 0.0f, 255.0f)); };
      q[0] = to8(c.r);
      q[1] = to8(c.g);
      q[2] = to8(c.b);
    }
  }
  return img;
}

// The synthetic set in memory: per_class images of each class, generated on demand (no files).
inline Dataset synth_dataset(const SynthOptions& opt = {}) {
  SKN_REQUIRE(opt.per_class > 0, ValueError, "synth: per-class count ", opt.per_class, " must be positive");
  Dataset d;
  d.source = "synth";
  d.classes = synth_class_names();
  for (int c = 0; c < 7; ++c)
    for (int i = 0; i < opt.per_class; ++i) {
      Sample s;
      s.path = detail::concat("synth/", d.classes[static_cast<std::size_t>(c)], "/", i, ".png");
      s.label = c;
      s.id = detail::concat(d.classes[static_cast<std::size_t>(c)], "_", i);
      d.samples.push_back(std::move(s));
    }
  const int size = opt.image_size;
  const uint64_t seed = opt.seed;
  d.generator = [size, seed](const Sample& s) {
    const int64_t i = std::stoll(s.id.substr(s.id.rfind('_') + 1));  // id = <class>_<index>
    return synth_image(s.label, i, size, seed);
  };
  return d;
}

// Writes the synthetic set as PNGs under out/<class>/<class>_<i>.png and returns it as a folder dataset.
inline Dataset write_synth_dataset(const fs::path& out, const SynthOptions& opt = {}) {
  const Dataset d = synth_dataset(opt);
  std::error_code ec;
  for (const auto& c : d.classes) {
    fs::create_directories(out / c, ec);
    SKN_REQUIRE(!ec, IoError, display_path(out / c), ": cannot create folder: ", ec.message());
  }
  for (int64_t i = 0; i < d.size(); ++i) {
    const Sample& s = d.samples[static_cast<std::size_t>(i)];
    write_png(out / d.classes[static_cast<std::size_t>(s.label)] / (s.id + ".png"), d.generator(s));
  }
  return load_folder_dataset(out);
}

}  // namespace skinnet
