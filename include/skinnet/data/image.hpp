#pragma once
// Image: an 8-bit RGB picture in memory, rows top to bottom, pixels interleaved (HWC, R G B). Every
// decoder output is converted to this one form (grey, grey+alpha, RGBA and 16-bit files included), so
// the rest of the data pipeline never branches on the file's colour type.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace skinnet {

struct Image {
  static constexpr int kChannels = 3;

  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes

  Image() = default;
  Image(int w, int h) : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * kChannels, 0) {}

  bool empty() const { return pixels.empty(); }
  std::size_t bytes() const { return pixels.size(); }
  uint8_t* at(int x, int y) { return pixels.data() + (static_cast<std::size_t>(y) * width + x) * kChannels; }
  const uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<std::size_t>(y) * width + x) * kChannels;
  }
  friend bool operator==(const Image& a, const Image& b) {
    return a.width == b.width && a.height == b.height && a.pixels == b.pixels;
  }
};

}  // namespace skinnet
