#pragma once
// Shape: rank 1-4 extents. Rank-4 shapes are NHWC (batch, height, width, channels), the layout of
// every activation in skinnet; lower ranks are used for weights, biases and logits.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "skinnet/core/error.hpp"

namespace skinnet {

class Shape {
 public:
  static constexpr int kMaxRank = 4;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    SKN_REQUIRE(dims.size() >= 1 && dims.size() <= kMaxRank, ShapeError,
                "Shape: rank must be 1..4, got ", dims.size());
    for (int64_t d : dims) {
      SKN_REQUIRE(d >= 0, ShapeError, "Shape: negative extent ", d);
      dims_[rank_++] = d;
    }
  }
  static Shape nhwc(int64_t n, int64_t h, int64_t w, int64_t c) { return Shape{n, h, w, c}; }

  int rank() const { return rank_; }
  int64_t operator[](int i) const {
    SKN_REQUIRE(i >= 0 && i < rank_, ShapeError, "Shape ", str(), ": no dimension ", i);
    return dims_[static_cast<size_t>(i)];
  }
  int64_t numel() const {
    if (rank_ == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
  }
  // NHWC accessors; only meaningful for rank-4 shapes.
  int64_t n() const { return at4(0); }
  int64_t h() const { return at4(1); }
  int64_t w() const { return at4(2); }
  int64_t c() const { return at4(3); }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) {
      if (i) s += "x";
      s += std::to_string(dims_[static_cast<size_t>(i)]);
    }
    return s + "]";
  }
  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[static_cast<size_t>(i)] != b.dims_[static_cast<size_t>(i)]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  int64_t at4(int i) const {
    SKN_REQUIRE(rank_ == 4, ShapeError, "Shape ", str(), " is not NHWC (rank 4)");
    return dims_[static_cast<size_t>(i)];
  }
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace skinnet
