#pragma once
// ConvGeometry: the output size and the padding of a sliding-window op (Conv2D, DepthwiseConv2D,
// MaxPool2D, AvgPool2D), computed once here and used by the CPU ops, the CUDA kernels and the layers,
// so that every backend agrees on which input pixel each output pixel sees.
//
// Padding modes:
//   Padding::same()      TensorFlow/Keras "same": out = ceil(in / stride); the total padding
//                        max((out - 1) * stride + k - in, 0) is split with the smaller half BEFORE
//                        (top/left) and the rest after, so an odd total pads one more row at the
//                        bottom/right. This is what Keras Xception and EfficientNet were trained with.
//   Padding::valid()     no padding: out = floor((in - k) / stride) + 1.
//   Padding::explicit_pads(top, bottom, left, right)
//   Padding::symmetric(p) PyTorch/torchvision style: p on every side (e.g. k/2 for ResNet),
//                        out = floor((in + 2p - k) / stride) + 1.
//
// Coordinates: output pixel (oh, ow) reads input rows oh*stride_h - pad_top + kh for kh in [0, k_h),
// and likewise for columns; rows or columns outside [0, in) are padding (zero for convolutions; never
// chosen by max pooling; not counted by average pooling).
#include <cstdint>
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/core/hd.hpp"
#include "skinnet/core/shape.hpp"

namespace skinnet {

enum class PadMode { Same, Valid, Explicit };

struct Padding {
  PadMode mode = PadMode::Same;
  int64_t top = 0, bottom = 0, left = 0, right = 0;  // only used by PadMode::Explicit

  static Padding same() { return Padding{PadMode::Same, 0, 0, 0, 0}; }
  static Padding valid() { return Padding{PadMode::Valid, 0, 0, 0, 0}; }
  static Padding explicit_pads(int64_t top, int64_t bottom, int64_t left, int64_t right) {
    SKN_REQUIRE(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, ValueError,
                "Padding: negative explicit padding (", top, ", ", bottom, ", ", left, ", ", right, ")");
    return Padding{PadMode::Explicit, top, bottom, left, right};
  }
  static Padding symmetric(int64_t p) { return explicit_pads(p, p, p, p); }

  std::string str() const {
    switch (mode) {
      case PadMode::Same: return "same";
      case PadMode::Valid: return "valid";
      default: break;
    }
    if (top == bottom && top == left && top == right) return "pad " + std::to_string(top);
    return "pad " + std::to_string(top) + "," + std::to_string(bottom) + "," + std::to_string(left) + "," +
           std::to_string(right);
  }
};

// Plain aggregate of integers, so it can be passed by value to CUDA kernels as it is.
struct ConvGeometry {
  int64_t n = 0, in_h = 0, in_w = 0, in_c = 0;  // input, NHWC
  int64_t k_h = 1, k_w = 1;                     // window
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0, out_c = 0;  // output, NHWC

  SKN_HD int64_t out_pixels() const { return n * out_h * out_w; }  // rows of the im2col matrix
  SKN_HD int64_t in_pixels() const { return n * in_h * in_w; }
  SKN_HD int64_t patch() const { return k_h * k_w * in_c; }  // columns of the im2col matrix
  SKN_HD bool is_pointwise() const {  // 1x1, stride 1, no padding: the input already is the GEMM operand
    return k_h == 1 && k_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_bottom == 0 &&
           pad_left == 0 && pad_right == 0;
  }
  Shape in_shape() const { return Shape::nhwc(n, in_h, in_w, in_c); }
  Shape out_shape() const { return Shape::nhwc(n, out_h, out_w, out_c); }

  // Geometry of a window op over an NHWC input. `out_c` is the output channel count (in_c for
  // depthwise convolutions and pooling). `what` names the caller in error messages.
  static ConvGeometry make(const Shape& in, int64_t k_h, int64_t k_w, int64_t stride_h, int64_t stride_w,
                           const Padding& pad, int64_t out_c, const std::string& what) {
    SKN_REQUIRE(in.rank() == 4, ShapeError, what, ": input must be NHWC (rank 4), got ", in.str());
    SKN_REQUIRE(k_h >= 1 && k_w >= 1, ValueError, what, ": kernel size must be >= 1, got ", k_h, "x", k_w);
    SKN_REQUIRE(stride_h >= 1 && stride_w >= 1, ValueError, what, ": stride must be >= 1, got ", stride_h,
                "x", stride_w);
    SKN_REQUIRE(out_c >= 1, ValueError, what, ": output channels must be >= 1, got ", out_c);
    ConvGeometry g;
    g.n = in.n();
    g.in_h = in.h();
    g.in_w = in.w();
    g.in_c = in.c();
    g.k_h = k_h;
    g.k_w = k_w;
    g.stride_h = stride_h;
    g.stride_w = stride_w;
    g.out_c = out_c;
    SKN_REQUIRE(g.n >= 1 && g.in_h >= 1 && g.in_w >= 1 && g.in_c >= 1, ShapeError, what, ": empty input ", in.str());
    switch (pad.mode) {
      case PadMode::Same: {
        g.out_h = (g.in_h + stride_h - 1) / stride_h;
        g.out_w = (g.in_w + stride_w - 1) / stride_w;
        const int64_t total_h = same_total(g.out_h, stride_h, k_h, g.in_h);
        const int64_t total_w = same_total(g.out_w, stride_w, k_w, g.in_w);
        g.pad_top = total_h / 2;
        g.pad_bottom = total_h - g.pad_top;
        g.pad_left = total_w / 2;
        g.pad_right = total_w - g.pad_left;
        break;
      }
      case PadMode::Valid:
      case PadMode::Explicit: {
        if (pad.mode == PadMode::Explicit) {
          g.pad_top = pad.top;
          g.pad_bottom = pad.bottom;
          g.pad_left = pad.left;
          g.pad_right = pad.right;
        }
        const int64_t span_h = g.in_h + g.pad_top + g.pad_bottom;
        const int64_t span_w = g.in_w + g.pad_left + g.pad_right;
        SKN_REQUIRE(span_h >= k_h && span_w >= k_w, ShapeError, what, ": input ", in.str(), " with padding ",
                    pad.str(), " is smaller than the ", k_h, "x", k_w, " window");
        g.out_h = (span_h - k_h) / stride_h + 1;
        g.out_w = (span_w - k_w) / stride_w + 1;
        break;
      }
    }
    return g;
  }

  // Square window, same stride on both axes: the common case.
  static ConvGeometry make(const Shape& in, int64_t k, int64_t stride, const Padding& pad, int64_t out_c,
                           const std::string& what) {
    return make(in, k, k, stride, stride, pad, out_c, what);
  }

 private:
  static int64_t same_total(int64_t out, int64_t stride, int64_t k, int64_t in) {
    const int64_t t = (out - 1) * stride + k - in;
    return t > 0 ? t : 0;
  }
};

}  // namespace skinnet
