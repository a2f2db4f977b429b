#pragma once
// Weight layouts: PyTorch's and Keras' against skinnet's (DESIGN.md §2).
//
//   weight            PyTorch                 skinnet                    Keras
//   conv              OIHW [out][in][kh][kw]  HWIO [kh][kw][in][out]     HWIO (same as skinnet)
//   depthwise conv    [C][1][kh][kw]          [kh][kw][C]                [kh][kw][C][1]
//   dense / linear    [out][in]               [in][out]                  [in][out]
//
// skinnet keeps channels last because its activations are NHWC: a convolution is then one GEMM,
// im2col(x)[N*H*W x kh*kw*in] times W[kh*kw*in x out], with W in exactly the HWIO order; a dense layer
// is x[N x in] times W[in x out]. Importing a PyTorch state_dict is therefore a name-for-name copy plus
// one of the transposes below; exporting (to compare with PyTorch) applies the inverse.
//
// Each function takes the source extents in the source's own order and returns a new row-major array.
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/shape.hpp"

namespace skinnet::io {

// PyTorch conv weight [O][I][H][W] -> skinnet [H][W][I][O].
inline std::vector<float> conv_oihw_to_hwio(const float* src, int64_t O, int64_t I, int64_t H, int64_t W) {
  std::vector<float> dst(static_cast<std::size_t>(O * I * H * W));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w)
          dst[static_cast<std::size_t>(((h * W + w) * I + i) * O + o)] = src[((o * I + i) * H + h) * W + w];
  return dst;
}

// skinnet conv weight [H][W][I][O] -> PyTorch [O][I][H][W].
inline std::vector<float> conv_hwio_to_oihw(const float* src, int64_t H, int64_t W, int64_t I, int64_t O) {
  std::vector<float> dst(static_cast<std::size_t>(O * I * H * W));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t o = 0; o < O; ++o)
          dst[static_cast<std::size_t>(((o * I + i) * H + h) * W + w)] = src[((h * W + w) * I + i) * O + o];
  return dst;
}

// PyTorch depthwise weight [C][1][H][W] (a grouped conv with groups = C) -> skinnet [H][W][C].
inline std::vector<float> depthwise_torch_to_skinnet(const float* src, int64_t C, int64_t H, int64_t W) {
  std::vector<float> dst(static_cast<std::size_t>(C * H * W));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) dst[static_cast<std::size_t>((h * W + w) * C + c)] = src[(c * H + h) * W + w];
  return dst;
}

// skinnet depthwise weight [H][W][C] -> PyTorch [C][1][H][W].
inline std::vector<float> depthwise_skinnet_to_torch(const float* src, int64_t H, int64_t W, int64_t C) {
  std::vector<float> dst(static_cast<std::size_t>(C * H * W));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c = 0; c < C; ++c) dst[static_cast<std::size_t>((c * H + h) * W + w)] = src[(h * W + w) * C + c];
  return dst;
}

// A plain matrix transpose [R][C] -> [C][R]: PyTorch Linear [out][in] <-> skinnet Dense [in][out].
inline std::vector<float> transpose_2d(const float* src, int64_t R, int64_t C) {
  std::vector<float> dst(static_cast<std::size_t>(R * C));
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) dst[static_cast<std::size_t>(c * R + r)] = src[r * C + c];
  return dst;
}
inline std::vector<float> linear_torch_to_skinnet(const float* src, int64_t out, int64_t in) {
  return transpose_2d(src, out, in);
}
inline std::vector<float> linear_skinnet_to_torch(const float* src, int64_t in, int64_t out) {
  return transpose_2d(src, in, out);
}

// Converts one PyTorch tensor (`shape`, `data`) in place to the skinnet layout of a parameter whose
// shape is `expected`, choosing the transpose from the two shapes:
//   file rank 4 [O,I,kh,kw], expected rank 4          conv: OIHW -> HWIO
//   file rank 4 [C,1,kh,kw], expected rank 3          depthwise: -> [kh,kw,C]
//   file rank 4 [O,I,1,1],   expected rank 2          1x1 conv used as a dense layer (timm's SE fc):
//                                                     -> [I,O]
//   file rank 2 [out,in]                              linear: -> [in,out] (always: a square matrix
//                                                     cannot tell by its shape that it needs it)
//   rank 1, rank 0                                    unchanged (biases, BN vectors, scalars)
// Anything else is left as it is; the caller's shape check then reports the mismatch by name.
inline void torch_to_skinnet_layout(std::vector<int64_t>& shape, std::vector<float>& data, const Shape& expected) {
  if (shape.size() == 4) {
    const int64_t a = shape[0], b = shape[1], h = shape[2], w = shape[3];
    if (expected.rank() == 4) {
      data = conv_oihw_to_hwio(data.data(), a, b, h, w);
      shape = {h, w, b, a};
    } else if (expected.rank() == 3 && b == 1) {
      data = depthwise_torch_to_skinnet(data.data(), a, h, w);
      shape = {h, w, a};
    } else if (expected.rank() == 2 && h == 1 && w == 1) {
      data = transpose_2d(data.data(), a, b);
      shape = {b, a};
    }
  } else if (shape.size() == 2) {
    data = transpose_2d(data.data(), shape[0], shape[1]);
    shape = {shape[1], shape[0]};
  }
}

// Keras stores conv and dense kernels as skinnet does; only its depthwise kernel carries a trailing
// depth multiplier of 1: [kh,kw,C,1] -> [kh,kw,C] (same bytes, new shape).
inline void keras_to_skinnet_layout(std::vector<int64_t>& shape, std::vector<float>& data, const Shape& expected) {
  (void)data;
  if (shape.size() == 4 && shape[3] == 1 && expected.rank() == 3) shape.pop_back();
}

}  // namespace skinnet::io
