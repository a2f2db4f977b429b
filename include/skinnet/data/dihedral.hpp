#pragma once
// The eight exact symmetries of a square image (the dihedral group D4): k quarter turns
// counter-clockwise, optionally followed by a horizontal flip. They move pixels without resampling, so
// flips and 90° rotations never blur — the augmentations used by the scalp study and the usual
// test-time augmentation views.
#include <cstddef>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

struct DihedralView {
  int quarter_turns = 0;  // 0..3, counter-clockwise
  bool hflip = false;     // mirror left-right after the turns
  bool identity() const { return quarter_turns % 4 == 0 && !hflip; }
};

// out(x, y) for an HWC image of `c` channels, w x h in, w x h out (or h x w for odd turns).
// Element type is uint8_t for images, float for augmentation buffers.
template <class T>
void apply_dihedral(const T* in, int w, int h, int c, DihedralView v, T* out) {
  const int k = ((v.quarter_turns % 4) + 4) % 4;
  const int ow = (k % 2) ? h : w, oh = (k % 2) ? w : h;
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int xo = v.hflip ? ow - 1 - x : x;  // the flip is applied last, so undo it first
      int sx = 0, sy = 0;
      switch (k) {  // inverse of a counter-clockwise quarter turn
        case 0: sx = xo; sy = y; break;
        case 1: sx = w - 1 - y; sy = xo; break;
        case 2: sx = w - 1 - xo; sy = h - 1 - y; break;
        default: sx = y; sy = h - 1 - xo; break;
      }
      const T* p = in + (static_cast<std::size_t>(sy) * w + sx) * c;
      T* q = out + (static_cast<std::size_t>(y) * ow + x) * c;
      for (int ch = 0; ch < c; ++ch) q[ch] = p[ch];
    }
}

}  // namespace skinnet
