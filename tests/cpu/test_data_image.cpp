// Image decode/encode (stb front end), colour conversions, limits, and resizing against a float64
// reference written here as plain 2-D loops (the library resizes separably in float).
#include <doctest/doctest.h>

#include <cmath>

#include "skinnet/data/image_io.hpp"
#include "skinnet/data/resize.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;
using fixtures::TempDir;

TEST_CASE("data image: PNG and BMP round trips are exact, JPEG is close") {
  const Image img = fixtures::pattern(37, 23, 5);
  CHECK(decode_image(fixtures::png_bytes(img), "a.png") == img);
  CHECK(decode_image(fixtures::bmp_bytes(img), "a.bmp") == img);
  const Image j = decode_image(fixtures::jpeg_bytes(img, 95), "a.jpg");
  REQUIRE(j.width == 37);
  REQUIRE(j.height == 23);
  double err = 0;
  for (std::size_t i = 0; i < img.bytes(); ++i) err += std::abs(int(j.pixels[i]) - int(img.pixels[i]));
  CHECK(err / static_cast<double>(img.bytes()) < 6.0);  // quality 95 on smooth gradients

  TempDir dir;
  write_png(dir / "x.png", img);
  CHECK(read_image(dir / "x.png") == img);
  const ImageInfo info = probe_image(dir / "x.png");
  CHECK(info.format == ImageFormat::Png);
  CHECK(info.width == 37);
  CHECK(info.height == 23);
  CHECK(info.channels == 3);
}

TEST_CASE("data image: grey, grey+alpha, RGBA and 16-bit PNG become 8-bit RGB") {
  const int w = 9, h = 8;
  std::vector<uint8_t> grey(w * h), ga(w * h * 2), rgba(w * h * 4);
  for (int i = 0; i < w * h; ++i) {
    grey[i] = static_cast<uint8_t>(i * 3);
    ga[2 * i] = static_cast<uint8_t>(i * 3);
    ga[2 * i + 1] = static_cast<uint8_t>(255 - i);
    for (int c = 0; c < 4; ++c) rgba[4 * i + c] = static_cast<uint8_t>(i * (c + 1));
  }
  const Image g = decode_image(fixtures::png_channels(w, h, 1, grey), "grey.png");
  const Image g2 = decode_image(fixtures::png_channels(w, h, 2, ga), "ga.png");
  const Image c4 = decode_image(fixtures::png_channels(w, h, 4, rgba), "rgba.png");
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) {
      CHECK(g.pixels[3 * i + c] == grey[i]);       // grey replicated
      CHECK(g2.pixels[3 * i + c] == ga[2 * i]);    // alpha dropped
      CHECK(c4.pixels[3 * i + c] == rgba[4 * i + c]);
    }
  const Image src = fixtures::pattern(11, 9, 2);
  const auto bytes16 = fixtures::png16(src);
  CHECK(probe_image_memory(bytes16.data(), bytes16.size(), "16.png").sixteen_bit);
  const Image d16 = decode_image(bytes16, "16.png");
  REQUIRE(d16.bytes() == src.bytes());
  for (std::size_t i = 0; i < src.bytes(); ++i) CHECK(std::abs(int(d16.pixels[i]) - int(src.pixels[i])) <= 1);
}

TEST_CASE("data image: limits are checked from the header before decoding") {
  const Image img = fixtures::pattern(40, 30);
  const auto png = fixtures::png_bytes(img);
  ImageLimits lim;
  lim.max_pixels = 40 * 30 - 1;
  CHECK_THROWS_WITH_AS(decode_image(png, "big.png", lim), doctest::Contains("big.png: image is 40x30 (1200 pixels), over the limit"),
                       DataError);
  lim = {};
  lim.max_side = 39;
  CHECK_THROWS_WITH_AS(decode_image(png, "wide.png", lim), doctest::Contains("over the maximum side of 39"), DataError);
  lim = {};
  lim.max_bytes = png.size() - 1;
  CHECK_THROWS_WITH_AS(decode_image(png, "heavy.png", lim), doctest::Contains("heavy.png: file is"), DataError);
  lim = {};
  lim.min_side = 31;
  CHECK_THROWS_WITH_AS(decode_image(png, "small.png", lim), doctest::Contains("smaller than the minimum side of 31"), DataError);
}

namespace {
// float64 reference: bilinear with half-pixel centres, clamped; 2-D, not separable.
double ref_bilinear(const Image& s, int ow, int oh, int x, int y, int c) {
  auto coord = [](int o, int in, int out) {
    double v = (o + 0.5) * in / out - 0.5;
    return std::min(std::max(v, 0.0), double(in - 1));
  };
  const double fx = coord(x, s.width, ow), fy = coord(y, s.height, oh);
  const int x0 = int(std::floor(fx)), y0 = int(std::floor(fy));
  const int x1 = std::min(x0 + 1, s.width - 1), y1 = std::min(y0 + 1, s.height - 1);
  const double ax = fx - x0, ay = fy - y0;
  return (1 - ay) * ((1 - ax) * s.at(x0, y0)[c] + ax * s.at(x1, y0)[c]) + ay * ((1 - ax) * s.at(x0, y1)[c] + ax * s.at(x1, y1)[c]);
}
// float64 reference: exact box average over the covered source area, by sub-pixel overlap.
double ref_area(const Image& s, int ow, int oh, int x, int y, int c) {
  const double x0 = double(x) * s.width / ow, x1 = double(x + 1) * s.width / ow;
  const double y0 = double(y) * s.height / oh, y1 = double(y + 1) * s.height / oh;
  double sum = 0, area = 0;
  for (int sy = 0; sy < s.height; ++sy)
    for (int sx = 0; sx < s.width; ++sx) {
      const double ox = std::max(0.0, std::min(x1, sx + 1.0) - std::max(x0, double(sx)));
      const double oy = std::max(0.0, std::min(y1, sy + 1.0) - std::max(y0, double(sy)));
      sum += ox * oy * s.at(sx, sy)[c];
      area += ox * oy;
    }
  return sum / area;
}
}  // namespace

TEST_CASE("data image: bilinear and area resize match the float64 reference") {
  const Image src = fixtures::pattern(29, 17, 3);
  struct Case {
    int w, h;
    ResizeMode mode;
  };
  for (const Case& k : {Case{13, 7, ResizeMode::Area}, Case{10, 17, ResizeMode::Area}, Case{50, 31, ResizeMode::Bilinear},
                        Case{12, 8, ResizeMode::Bilinear}, Case{64, 40, ResizeMode::Area}}) {
    CAPTURE(k.w);
    CAPTURE(k.h);
    const Image out = resize(src, k.w, k.h, k.mode);
    REQUIRE(out.width == k.w);
    REQUIRE(out.height == k.h);
    int worst = 0;
    for (int y = 0; y < k.h; ++y)
      for (int x = 0; x < k.w; ++x)
        for (int c = 0; c < 3; ++c) {
          const double ref = k.mode == ResizeMode::Area ? ref_area(src, k.w, k.h, x, y, c) : ref_bilinear(src, k.w, k.h, x, y, c);
          worst = std::max(worst, int(std::abs(out.at(x, y)[c] - std::lround(ref))));
        }
    CHECK(worst <= 1);  // float accumulation may round the other way at .5
  }
  CHECK(resize(src, 29, 17) == src);
  // Area of an exact 2x reduction is the mean of each 2x2 block.
  Image block(4, 2);
  for (std::size_t i = 0; i < block.bytes(); ++i) block.pixels[i] = static_cast<uint8_t>(i * 10);
  const Image half = resize(block, 2, 1, ResizeMode::Area);
  CHECK(half.at(0, 0)[0] == (0 + 30 + 120 + 150) / 4);
  CHECK_THROWS_AS(resize(src, 0, 5), ValueError);
}

TEST_CASE("data image: display_path escapes bytes that are not UTF-8") {
  CHECK(display_path("a/b.jpg") == "a/b.jpg");
  CHECK(display_path("caf\xc3\xa9.jpg") == "caf\xc3\xa9.jpg");  // valid UTF-8 kept
  CHECK(display_path("bad\xff\xfe.jpg") == "bad\\xff\\xfe.jpg");
  CHECK(display_path("tab\t.jpg") == "tab\\x09.jpg");
}
