#pragma once
// Test-time augmentation: predict on several exact symmetries of each image and average the
// probabilities. Modes:
//   none         the image itself
//   flips        identity, horizontal flip, vertical flip, both (4 views)
//   flips_rot90  all 8 symmetries of the square (4 quarter turns, each with and without a flip)
// Views are exact pixel permutations (dihedral.hpp), so a TTA prediction never sees resampling blur.
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/dihedral.hpp"
#include "skinnet/data/image.hpp"

namespace skinnet {

enum class TtaMode { None, Flips, FlipsRot90 };

inline TtaMode parse_tta(const std::string& s) {
  if (s == "none" || s.empty()) return TtaMode::None;
  if (s == "flips") return TtaMode::Flips;
  if (s == "flips_rot90" || s == "rot90" || s == "d4") return TtaMode::FlipsRot90;
  throw ValueError("test-time augmentation '" + s + "': expected none, flips or flips_rot90");
}

inline std::vector<DihedralView> tta_views(TtaMode m) {
  switch (m) {
    case TtaMode::None: return {{0, false}};
    // A vertical flip is a half turn then a horizontal flip; both flips together are a half turn.
    case TtaMode::Flips: return {{0, false}, {0, true}, {2, true}, {2, false}};
    default: {
      std::vector<DihedralView> v;
      for (int k = 0; k < 4; ++k) {
        v.push_back({k, false});
        v.push_back({k, true});
      }
      return v;
    }
  }
}

inline Image apply_view(const Image& img, DihedralView v) {
  if (v.identity()) return img;
  const bool swap = v.quarter_turns % 2 != 0;
  Image out(swap ? img.height : img.width, swap ? img.width : img.height);
  apply_dihedral(img.pixels.data(), img.width, img.height, Image::kChannels, v, out.pixels.data());
  return out;
}

}  // namespace skinnet
