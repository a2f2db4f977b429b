// Augmentation (parsing, value ranges, exactness of flips and quarter turns, colour operations),
// normalisation presets and test-time augmentation views.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "skinnet/data/augment.hpp"
#include "skinnet/data/normalize.hpp"
#include "skinnet/data/tta.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;

namespace {
const char* kFull = "hflip,vflip,rot90,rotate=30,shift=0.1,shear=0.15,zoom=0.1,brightness=0.2,contrast=0.2,hue=0.05,random_resized_crop=0.6";

std::vector<float> run(const Image& img, const AugmentSpec& a, uint64_t seed, uint32_t epoch, uint64_t pos) {
  std::vector<float> out(img.bytes());
  augment_into(img, draw_augment(a, seed, epoch, pos), img.width, img.height, out.data());
  return out;
}
std::vector<float> as_float(const Image& img) { return std::vector<float>(img.pixels.begin(), img.pixels.end()); }

// Independent reference: counter-clockwise quarter turn of a square image, out(x, y) = in(w-1-y, x).
Image turn_ccw(const Image& in) {
  Image out(in.height, in.width);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(x, y)[c] = in.at(in.width - 1 - y, x)[c];
  return out;
}
Image mirror(const Image& in) {
  Image out(in.width, in.height);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < in.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(x, y)[c] = in.at(in.width - 1 - x, y)[c];
  return out;
}
}  // namespace

TEST_CASE("data augment: the text form parses, prints back, and rejects mistakes") {
  const AugmentSpec a = parse_augment(kFull);
  CHECK(a.hflip);
  CHECK(a.vflip);
  CHECK(a.rot90);
  CHECK(a.rotate == 30.0f);
  CHECK(a.shift == doctest::Approx(0.1));
  CHECK(a.shear == doctest::Approx(0.15));
  CHECK(a.crop == doctest::Approx(0.6));
  CHECK(a.hue == doctest::Approx(0.05));
  CHECK(parse_augment(a.str()).str() == a.str());
  CHECK(parse_augment("none").empty());
  CHECK(parse_augment("").str() == "none");
  CHECK(parse_augment(" hflip , rotate=10 ").rotate == 10.0f);
  CHECK_THROWS_WITH_AS(parse_augment("hflip,blur=3"), doctest::Contains("unknown item 'blur'"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("rotate=abc"), doctest::Contains("'rotate' needs a number, got 'abc'"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("rotate=200"), doctest::Contains("rotate=200 is outside [0, 180]"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("hflip,hflip"), doctest::Contains("'hflip' given twice"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("hflip=1"), doctest::Contains("takes no value"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("random_resized_crop=0"), doctest::Contains("outside (0, 1]"), ValueError);
  CHECK_THROWS_WITH_AS(parse_augment("rotate"), doctest::Contains("unknown item 'rotate'"), ValueError);
  CHECK_THROWS_AS(parse_augment("hflip,,vflip"), ValueError);
}

TEST_CASE("data augment: every augmentation keeps shape and the 0..255 range, deterministically") {
  const Image img = fixtures::pattern(40, 40, 4);
  const AugmentSpec a = parse_augment(kFull);
  std::set<std::vector<float>> distinct;
  for (uint64_t pos = 0; pos < 40; ++pos) {
    const auto out = run(img, a, 7, 2, pos);
    REQUIRE(out.size() == img.bytes());
    for (float v : out) {
      REQUIRE(std::isfinite(v));
      REQUIRE(v >= 0.0f);
      REQUIRE(v <= 255.0f);
    }
    CHECK(run(img, a, 7, 2, pos) == out);  // same (seed, epoch, position): same pixels
    distinct.insert(out);
  }
  CHECK(distinct.size() == 40);
  CHECK(run(img, a, 7, 3, 0) != run(img, a, 7, 2, 0));  // another epoch
  CHECK(run(img, a, 8, 2, 0) != run(img, a, 7, 2, 0));  // another seed
  CHECK(run(img, AugmentSpec{}, 7, 2, 0) == as_float(img));  // no augmentation: exact copy
  // Rectangular outputs work for everything but quarter turns.
  const Image rect = fixtures::pattern(30, 20);
  std::vector<float> out(30 * 20 * 3);
  augment_into(rect, draw_augment(parse_augment("rotate=20,zoom=0.2,hflip"), 1, 0, 0), 30, 20, out.data());
  AugmentDraw turn;
  turn.view.quarter_turns = 1;
  CHECK_THROWS_WITH_AS(augment_into(rect, turn, 30, 20, out.data()), doctest::Contains("rot90 needs a square output"), ValueError);
}

TEST_CASE("data augment: flips and quarter turns are exact pixel permutations") {
  const Image img = fixtures::pattern(24, 24, 9);
  std::set<int> seen_turns;
  for (uint64_t pos = 0; pos < 32; ++pos) {
    const AugmentDraw d = draw_augment(parse_augment("rot90"), 1, 0, pos);
    Image expect = img;
    for (int k = 0; k < d.view.quarter_turns; ++k) expect = turn_ccw(expect);
    seen_turns.insert(d.view.quarter_turns);
    CHECK(run(img, parse_augment("rot90"), 1, 0, pos) == as_float(expect));
  }
  CHECK(seen_turns.size() == 4);
  int flipped = 0;
  for (uint64_t pos = 0; pos < 32; ++pos) {
    const auto out = run(img, parse_augment("hflip"), 1, 0, pos);
    const bool is_flip = out == as_float(mirror(img));
    CHECK((is_flip || out == as_float(img)));
    flipped += is_flip;
  }
  CHECK(flipped > 4);
  CHECK(flipped < 28);
  // vflip = mirror of the upside-down image.
  for (uint64_t pos = 0; pos < 8; ++pos) {
    const auto out = run(img, parse_augment("vflip"), 3, 0, pos);
    const Image upside = turn_ccw(turn_ccw(img));
    CHECK((out == as_float(img) || out == as_float(mirror(upside))));
  }
}

TEST_CASE("data augment: geometry replicates edges, colour operations do what they say") {
  // Rotation, shift, shear and zoom of a constant image stay constant (edge replication, no black fill).
  Image flat(32, 32);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t{140});
  for (uint64_t pos = 0; pos < 10; ++pos)
    for (float v : run(flat, parse_augment("rotate=45,shift=0.3,shear=0.5,zoom=0.5,random_resized_crop=0.3"), 2, 0, pos))
      REQUIRE(v == doctest::Approx(140.0f).epsilon(1e-5));

  const Image img = fixtures::pattern(32, 32, 2);
  // Brightness: every unclamped value scaled by the same factor in [0.8, 1.2].
  for (uint64_t pos = 0; pos < 6; ++pos) {
    const auto out = run(img, parse_augment("brightness=0.2"), 4, 0, pos);
    const float b = draw_augment(parse_augment("brightness=0.2"), 4, 0, pos).brightness;
    CHECK(b >= 0.8f);
    CHECK(b <= 1.2f);
    for (std::size_t i = 0; i < out.size(); ++i)
      CHECK(out[i] == doctest::Approx(std::min(255.0, double(img.pixels[i]) * b)).epsilon(1e-5));
  }
  // Contrast keeps the mean grey level of an image that does not clip.
  Image mid(16, 16);
  for (std::size_t i = 0; i < mid.bytes(); ++i) mid.pixels[i] = static_cast<uint8_t>(100 + (i * 37) % 60);
  auto grey = [](const std::vector<float>& v) {
    double s = 0;
    for (std::size_t i = 0; i < v.size(); i += 3) s += 0.299 * v[i] + 0.587 * v[i + 1] + 0.114 * v[i + 2];
    return s / double(v.size() / 3);
  };
  const auto c = run(mid, parse_augment("contrast=0.5"), 9, 0, 1);
  CHECK(grey(c) == doctest::Approx(grey(as_float(mid))).epsilon(1e-4));
  CHECK(c != as_float(mid));
  // Hue rotation keeps each pixel's max and min (HSV value and saturation) and leaves grey alone.
  const auto h = run(img, parse_augment("hue=0.3"), 5, 0, 2);
  for (std::size_t p = 0; p < h.size(); p += 3) {
    const float in_max = std::max({float(img.pixels[p]), float(img.pixels[p + 1]), float(img.pixels[p + 2])});
    const float in_min = std::min({float(img.pixels[p]), float(img.pixels[p + 1]), float(img.pixels[p + 2])});
    CHECK(std::max({h[p], h[p + 1], h[p + 2]}) == doctest::Approx(in_max).epsilon(1e-4));
    CHECK(std::min({h[p], h[p + 1], h[p + 2]}) == doctest::Approx(in_min).epsilon(1e-3));
  }
  CHECK(h != as_float(img));
  CHECK(run(flat, parse_augment("hue=0.5"), 5, 0, 2) == as_float(flat));
}

TEST_CASE("data augment: normalisation presets match their published constants") {
  const float rgb[3] = {10.0f, 128.0f, 250.0f};
  auto apply = [&](NormPreset p) {
    std::vector<float> v(rgb, rgb + 3);
    normalize_pixels(v.data(), 1, p);
    return v;
  };
  const auto tf = apply(parse_norm("tf"));
  CHECK(tf[0] == doctest::Approx(10.0 / 127.5 - 1));
  CHECK(tf[2] == doctest::Approx(250.0 / 127.5 - 1));
  const auto caffe = apply(parse_norm("caffe"));  // BGR order, ImageNet mean in BGR
  CHECK(caffe[0] == doctest::Approx(250.0 - 103.939));
  CHECK(caffe[1] == doctest::Approx(128.0 - 116.779));
  CHECK(caffe[2] == doctest::Approx(10.0 - 123.68));
  const auto torch = apply(parse_norm("torch"));
  CHECK(torch[0] == doctest::Approx((10.0 / 255 - 0.485) / 0.229));
  CHECK(torch[1] == doctest::Approx((128.0 / 255 - 0.456) / 0.224));
  CHECK(torch[2] == doctest::Approx((250.0 / 255 - 0.406) / 0.225));
  CHECK(apply(parse_norm("raw")) == std::vector<float>(rgb, rgb + 3));
  CHECK(std::string(norm_name(NormPreset::Torch)) == "torch");
  CHECK_THROWS_WITH_AS(parse_norm("imagenet"), doctest::Contains("expected tf, caffe, torch or raw"), ValueError);
}

TEST_CASE("data augment: test-time augmentation views are the distinct exact symmetries") {
  const Image img = fixtures::pattern(12, 12, 3);
  CHECK(tta_views(parse_tta("none")).size() == 1);
  std::set<std::vector<uint8_t>> flips, all;
  for (auto v : tta_views(parse_tta("flips"))) flips.insert(apply_view(img, v).pixels);
  for (auto v : tta_views(parse_tta("flips_rot90"))) all.insert(apply_view(img, v).pixels);
  CHECK(flips.size() == 4);
  CHECK(all.size() == 8);
  CHECK(flips.count(mirror(img).pixels) == 1);
  CHECK(flips.count(turn_ccw(turn_ccw(img)).pixels) == 1);
  CHECK(all.count(turn_ccw(img).pixels) == 1);
  CHECK(apply_view(img, {1, false}) == turn_ccw(img));
  const Image rect = fixtures::pattern(7, 5);
  const Image t = apply_view(rect, {1, false});
  CHECK(t.width == 5);
  CHECK(t.height == 7);
  CHECK_THROWS_AS(parse_tta("mixup"), ValueError);
}
