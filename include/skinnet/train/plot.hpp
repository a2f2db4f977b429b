#pragma once
// Pictures for reports: line charts (loss / accuracy per epoch) and a confusion-matrix heat map, drawn
// into an RGB canvas and written as PNG (stb_image_write). Text is rendered with stb_truetype from
// DejaVu Sans (Debian fonts-dejavu-core); without the font the pictures are drawn without text.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/stb.hpp"

#ifndef SKINNET_STB_TRUETYPE_INCLUDED
#define SKINNET_STB_TRUETYPE_INCLUDED
#define STBTT_STATIC  // a private copy per translation unit, as for stb_image (see data/stb.hpp)
#define STB_TRUETYPE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_truetype.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace skinnet {

struct Color {
  uint8_t r, g, b;
};

namespace plot_detail {
inline const std::vector<unsigned char>& font_bytes() {
  static const std::vector<unsigned char> bytes = [] {
    std::vector<unsigned char> b;
    for (const char* p : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                          "/usr/share/fonts/dejavu/DejaVuSans.ttf"}) {
      std::ifstream f(p, std::ios::binary);
      if (f) {
        b.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        break;
      }
    }
    return b;
  }();
  return bytes;
}
}  // namespace plot_detail

class Canvas {
 public:
  Canvas(int width, int height, Color background = {255, 255, 255})
      : w_(width), h_(height), px_(static_cast<size_t>(width) * height * 3) {
    for (size_t i = 0; i < px_.size(); i += 3) {
      px_[i] = background.r;
      px_[i + 1] = background.g;
      px_[i + 2] = background.b;
    }
    const auto& font = plot_detail::font_bytes();
    has_font_ = !font.empty() && stbtt_InitFont(&font_, font.data(), stbtt_GetFontOffsetForIndex(font.data(), 0));
  }

  int width() const { return w_; }
  int height() const { return h_; }
  bool has_font() const { return has_font_; }

  // Blends colour c into pixel (x, y) with coverage a in [0, 1].
  void blend(int x, int y, Color c, float a = 1.f) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_ || a <= 0.f) return;
    uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    a = std::min(a, 1.f);
    p[0] = static_cast<uint8_t>(p[0] + (c.r - p[0]) * a);
    p[1] = static_cast<uint8_t>(p[1] + (c.g - p[1]) * a);
    p[2] = static_cast<uint8_t>(p[2] + (c.b - p[2]) * a);
  }
  void fill_rect(int x0, int y0, int x1, int y1, Color c) {
    for (int y = std::max(0, y0); y < std::min(h_, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(w_, x1); ++x) blend(x, y, c);
  }
  // A line `thickness` pixels wide, drawn by stamping discs along it.
  void line(float x0, float y0, float x1, float y1, Color c, float thickness = 1.5f) {
    const float len = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, static_cast<int>(len * 2));
    const float r = thickness / 2;
    for (int s = 0; s <= steps; ++s) {
      const float t = static_cast<float>(s) / steps;
      const float cx = x0 + (x1 - x0) * t, cy = y0 + (y1 - y0) * t;
      for (int y = static_cast<int>(cy - r - 1); y <= static_cast<int>(cy + r + 1); ++y)
        for (int x = static_cast<int>(cx - r - 1); x <= static_cast<int>(cx + r + 1); ++x) {
          const float d = std::hypot(x + 0.5f - cx, y + 0.5f - cy);
          blend(x, y, c, std::clamp(r + 0.5f - d, 0.f, 1.f));
        }
    }
  }
  // Text with its baseline-left corner at (x, y); align: 0 left, 1 centre, 2 right. Returns its width.
  int text(const std::string& s, float x, float y, float size, Color c = {0, 0, 0}, int align = 0) {
    if (!has_font_) return 0;
    const float scale = stbtt_ScaleForPixelHeight(&font_, size);
    const int width = text_width(s, size);
    float pen = x - (align == 1 ? width / 2.f : align == 2 ? static_cast<float>(width) : 0.f);
    for (unsigned char ch : s) {
      int advance, lsb, x0, y0, x1, y1;
      stbtt_GetCodepointHMetrics(&font_, ch, &advance, &lsb);
      stbtt_GetCodepointBitmapBox(&font_, ch, scale, scale, &x0, &y0, &x1, &y1);
      const int gw = x1 - x0, gh = y1 - y0;
      if (gw > 0 && gh > 0) {
        std::vector<unsigned char> glyph(static_cast<size_t>(gw) * gh);
        stbtt_MakeCodepointBitmap(&font_, glyph.data(), gw, gh, gw, scale, scale, ch);
        for (int gy = 0; gy < gh; ++gy)
          for (int gx = 0; gx < gw; ++gx)
            blend(static_cast<int>(pen) + x0 + gx, static_cast<int>(y) + y0 + gy, c,
                  glyph[static_cast<size_t>(gy) * gw + gx] / 255.f);
      }
      pen += advance * scale;
    }
    return width;
  }
  int text_width(const std::string& s, float size) {
    if (!has_font_) return 0;
    const float scale = stbtt_ScaleForPixelHeight(&font_, size);
    float w = 0;
    for (unsigned char ch : s) {
      int advance, lsb;
      stbtt_GetCodepointHMetrics(&font_, ch, &advance, &lsb);
      w += advance * scale;
    }
    return static_cast<int>(std::ceil(w));
  }

  void write_png(const std::filesystem::path& path) const {
    if (!stbi_write_png(path.string().c_str(), w_, h_, 3, px_.data(), w_ * 3))
      throw IoError("cannot write PNG " + path.string());
  }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
  stbtt_fontinfo font_{};
  bool has_font_ = false;
};

struct Series {
  std::string label;
  std::vector<double> y;  // one value per x = 1, 2, ...
  Color color;
};

// A line chart of series over epochs 1..n with axes, ticks, a title and a legend.
inline void line_chart_png(const std::filesystem::path& path, const std::string& title, const std::string& y_label,
                           const std::vector<Series>& series, int width = 720, int height = 420) {
  Canvas cv(width, height);
  const int left = 70, right = 20, top = 40, bottom = 50;
  const int pw = width - left - right, ph = height - top - bottom;
  size_t n = 0;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series) {
    n = std::max(n, s.y.size());
    for (double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) hi = lo + 1;
  const double pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  auto X = [&](double i) { return left + (n <= 1 ? pw / 2.0 : (i - 1) / static_cast<double>(n - 1) * pw); };
  auto Y = [&](double v) { return top + (hi - v) / (hi - lo) * ph; };
  const Color grid{225, 225, 225}, axis{60, 60, 60};
  for (int t = 0; t <= 5; ++t) {
    const double v = lo + (hi - lo) * t / 5;
    cv.line(left, static_cast<float>(Y(v)), left + pw, static_cast<float>(Y(v)), grid, 1.f);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    cv.text(buf, left - 6, static_cast<float>(Y(v)) + 4, 12, axis, 2);
  }
  const size_t xticks = std::min<size_t>(n, 10);
  for (size_t t = 0; t < xticks && n > 0; ++t) {
    const size_t e = n <= 1 ? 1 : 1 + t * (n - 1) / std::max<size_t>(1, xticks - 1);
    cv.text(std::to_string(e), static_cast<float>(X(static_cast<double>(e))), top + ph + 18, 12, axis, 1);
  }
  cv.line(left, top, left, top + ph, axis, 1.f);
  cv.line(left, top + ph, left + pw, top + ph, axis, 1.f);
  cv.text(title, width / 2.f, 24, 16, {0, 0, 0}, 1);
  cv.text("epoch", left + pw / 2.f, height - 12, 13, axis, 1);
  cv.text(y_label, 8, top - 10, 13, axis, 0);
  float legend_x = left + 10;
  for (const auto& s : series) {
    for (size_t i = 1; i < s.y.size(); ++i)
      if (std::isfinite(s.y[i - 1]) && std::isfinite(s.y[i]))
        cv.line(static_cast<float>(X(static_cast<double>(i))), static_cast<float>(Y(s.y[i - 1])),
                static_cast<float>(X(static_cast<double>(i + 1))), static_cast<float>(Y(s.y[i])), s.color, 2.f);
    for (size_t i = 0; i < s.y.size(); ++i)
      if (std::isfinite(s.y[i])) cv.line(static_cast<float>(X(static_cast<double>(i + 1))), static_cast<float>(Y(s.y[i])),
                                        static_cast<float>(X(static_cast<double>(i + 1))), static_cast<float>(Y(s.y[i])), s.color, 5.f);
    cv.fill_rect(static_cast<int>(legend_x), top + 6, static_cast<int>(legend_x) + 14, top + 16, s.color);
    legend_x += 20 + cv.text(s.label, legend_x + 18, top + 16, 12, axis) + 12;
  }
  cv.write_png(path);
}

// A confusion matrix (rows = true class, columns = predicted) coloured by row-normalised share, with
// the counts written in the cells.
inline void confusion_matrix_png(const std::filesystem::path& path, const std::vector<std::vector<int64_t>>& counts,
                                 const std::vector<std::string>& names, const std::string& title = "Confusion matrix") {
  const int k = static_cast<int>(counts.size());
  const int cell = std::clamp(480 / std::max(k, 1), 28, 80);
  Canvas probe(1, 1);
  int label_w = 0;
  for (const auto& n : names) label_w = std::max(label_w, probe.text_width(n, 13));
  const int left = label_w + 30, top = 60;
  const int width = left + k * cell + 30, height = top + k * cell + 60;
  Canvas cv(width, height);
  cv.text(title, width / 2.f, 26, 16, {0, 0, 0}, 1);
  cv.text("rows: true class, columns: predicted", width / 2.f, 46, 12, {90, 90, 90}, 1);
  for (int r = 0; r < k; ++r) {
    int64_t row_total = 0;
    for (int c = 0; c < k; ++c) row_total += counts[static_cast<size_t>(r)][static_cast<size_t>(c)];
    for (int c = 0; c < k; ++c) {
      const int64_t v = counts[static_cast<size_t>(r)][static_cast<size_t>(c)];
      const float share = row_total ? static_cast<float>(v) / static_cast<float>(row_total) : 0.f;
      const Color fill{static_cast<uint8_t>(255 - 200 * share), static_cast<uint8_t>(255 - 140 * share),
                       static_cast<uint8_t>(255 - 40 * share)};
      const int x = left + c * cell, y = top + r * cell;
      cv.fill_rect(x, y, x + cell - 1, y + cell - 1, fill);
      cv.text(std::to_string(v), x + cell / 2.f, y + cell / 2.f + 5, 13,
              share > 0.6f ? Color{255, 255, 255} : Color{20, 20, 20}, 1);
    }
    const std::string& name = r < static_cast<int>(names.size()) ? names[static_cast<size_t>(r)] : std::to_string(r);
    cv.text(name, left - 8, top + r * cell + cell / 2.f + 5, 13, {0, 0, 0}, 2);
  }
  // Column labels, written below the grid (no rotation: one short label per column, staggered).
  for (int c = 0; c < k; ++c) {
    const std::string& name = c < static_cast<int>(names.size()) ? names[static_cast<size_t>(c)] : std::to_string(c);
    cv.text(name, left + c * cell + cell / 2.f, top + k * cell + 18 + (c % 2) * 16, 12, {0, 0, 0}, 1);
  }
  cv.write_png(path);
}

}  // namespace skinnet
