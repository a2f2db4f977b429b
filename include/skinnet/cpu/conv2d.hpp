#pragma once
// Dense 2-D convolution on the CPU, NHWC activations, HWIO weights ([kh][kw][cin][cout]).
//
// Strategy:
//   * Cin >= 16 (every convolution of the models but the 3-channel stems): the forward pass and the
//     weight gradient are an "indirect GEMM" that reads the input through per-tap pointers, with no
//     column buffer (cpu/conv_indirect.hpp). The input gradient at stride 1 is the forward pass of dY
//     with the rotated, transposed kernel (input_grad_is_conv below), so it takes the same path.
//   * 1x1, stride 1, no padding ("pointwise"): an NHWC activation already is the [N*H*W x Cin]
//     matrix, so the input gradient and the weight gradient are each ONE call to the packed SGEMM, and
//     so is the forward pass when Cin < 16. (The indirect forward measured 15-20% faster than the GEMM
//     on 256->64 56x56 b16, whose A panels are transposed copies of x; for the input gradient the GEMM
//     was as fast or faster; the weight gradient takes the indirect tiles when there are many pixels,
//     pointwise_weight_grad_is_indirect.)
//   * everything else (small Cin): im2col into a column buffer of bounded size (kColumnBudget bytes;
//     the batch is processed in tiles of output rows), then SGEMM:
//        forward      Y_tile  = Col_tile * W
//        input grad   stride 1: as above; other strides: dCol = dY_tile * W^T, then col2im
//                     scatter-adds dCol into dX
//        weight grad  dW     += Col_tile^T * dY_tile
//     The tile size depends only on the geometry, never on the thread count, so results are
//     bit-identical run to run.
//
// Backend contract (the Cuda backend has the same signatures with Tensor<Cuda>):
//   conv2d_forward          returns y; bias may be nullptr.
//   conv2d_backward_input   returns dx.
//   conv2d_backward_params  ADDS dL/dW into dw and, when dbias is not null, dL/dbias into *dbias
//                           (computed whole first, then added: twice from zero is exactly double).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/conv_indirect.hpp"
#include "skinnet/cpu/gemm.hpp"
#include "skinnet/cpu/im2col.hpp"

namespace skinnet::cpu {

namespace detail {

// Column buffer budget: 8 MiB keeps a tile of Col resident in the shared L3 while SGEMM streams it.
inline constexpr int64_t kColumnBudget = int64_t{8} << 20;

inline int64_t conv_tile_rows(const ConvGeometry& g) {
  // At least 64 rows even for huge patches (GEMM efficiency), at most the whole batch.
  const int64_t rows = std::max<int64_t>(64, kColumnBudget / (g.patch() * int64_t{sizeof(float)}));
  return std::min<int64_t>(rows, std::max<int64_t>(g.out_pixels(), 1));
}

inline void check_conv_shapes(const ConvGeometry& g, const Shape& x_or_dy, bool is_dy, const Tensor<Cpu>& w,
                              const char* op) {
  const Shape want = is_dy ? g.out_shape() : g.in_shape();
  SKN_REQUIRE(x_or_dy == want, ShapeError, op, ": ", is_dy ? "dy" : "x", " has shape ", x_or_dy.str(),
              ", the geometry expects ", want.str());
  const Shape wshape{g.k_h, g.k_w, g.in_c, g.out_c};
  SKN_REQUIRE(w.shape() == wshape, ShapeError, op, ": weight has shape ", w.shape().str(), ", expected HWIO ",
              wshape.str());
}

// y[r, c] += bias[c] for every row r of a [rows x channels] matrix.
inline void add_row_bias(float* y, int64_t rows, int64_t channels, const float* bias) {
  parallel_chunks(0, rows, max_threads(), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* row = y + r * channels;
SKN_OMP_SIMD
      for (int64_t c = 0; c < channels; ++c) row[c] += bias[c];
    }
  });
}

// out[c] += sum over rows of m[r, c] (the bias gradient). Deterministic: the rows are cut into a fixed
// number of slices (independent of the thread count), each summed in order, and the slice sums are
// combined in slice order.
inline void add_column_sums(const float* m, int64_t rows, int64_t channels, float* out) {
  constexpr int64_t kSlices = 16;
  const int64_t slices = std::clamp<int64_t>(rows / 256, 1, kSlices);
  std::vector<float> partial(static_cast<size_t>(slices * channels), 0.f);
  parallel_for(0, slices, [&](int64_t s) {
    float* acc = partial.data() + s * channels;
    for (int64_t r = rows * s / slices; r < rows * (s + 1) / slices; ++r) {
      const float* row = m + r * channels;
SKN_OMP_SIMD
      for (int64_t c = 0; c < channels; ++c) acc[c] += row[c];
    }
  });
  for (int64_t s = 1; s < slices; ++s)
    for (int64_t c = 0; c < channels; ++c) partial[static_cast<size_t>(c)] += partial[static_cast<size_t>(s * channels + c)];
  // One addition into out, so calling twice from zero gives exactly twice the gradient.
  for (int64_t c = 0; c < channels; ++c) out[c] += partial[static_cast<size_t>(c)];
}

// dst[i] += src[i]: the one step where a computed gradient meets the accumulated one. In parallel
// blocks: a 3x3 kernel at 512 channels is 2.4M floats, and on one thread the other one waited.
inline void accumulate(float* dst, const float* src, int64_t n) {
  for_each_block(n, [&](int64_t lo, int64_t hi) {
SKN_OMP_SIMD
    for (int64_t i = lo; i < hi; ++i) dst[i] += src[i];
  });
}

// The weight gradient of a pointwise convolution: the packed GEMM (dW = X^T * dY), or the indirect
// weight-gradient tiles, which read x and dy where they lie instead of packing both. The tiles won
// where there are many pixels (b16: 56^2 256->64 5.5 vs 6.1 ms, 56^2 144->24 1.5-1.9 vs 2.3 ms, 112^2
// 32->16 2.5 vs 3.0 ms) and lost where there are few pixels and many channels (14^2 1024->256 4.8 vs 3.9
// ms, 7^2 2048->512 5.6 vs 3.7 ms: fewer pixel slices than threads can share evenly, and partial
// gradients of megabytes); 28^2 512->128 was a tie. Zen 5 VM, 2 threads.
inline bool pointwise_weight_grad_is_indirect(const ConvGeometry& g) {
  return conv_uses_indirect(g) && g.out_pixels() >= 16384;
}

// The input gradient of a stride-1 convolution is itself a stride-1 convolution: of dy, with the
// kernel rotated by 180 degrees and its two channel axes swapped, padded by K - 1 - pad on each side:
//   dx[ih, iw] = sum over (kh, kw) of dy[ih + pt - kh, iw + pl - kw] * W[kh, kw]^T
// Computing it that way runs the same GEMM shape as the forward pass (inner dimension KH*KW*Cout)
// instead of a GEMM with inner dimension Cout followed by a col2im scatter-add. Needs every pad
// <= K - 1 (else the rotated padding would be negative).
inline bool input_grad_is_conv(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.pad_top < g.k_h && g.pad_bottom < g.k_h && g.pad_left < g.k_w &&
         g.pad_right < g.k_w;
}

inline ConvGeometry transposed_geometry(const ConvGeometry& g) {
  ConvGeometry t = g;
  t.in_h = g.out_h;
  t.in_w = g.out_w;
  t.in_c = g.out_c;
  t.pad_top = g.k_h - 1 - g.pad_top;
  t.pad_bottom = g.k_h - 1 - g.pad_bottom;
  t.pad_left = g.k_w - 1 - g.pad_left;
  t.pad_right = g.k_w - 1 - g.pad_right;
  t.out_h = g.in_h;
  t.out_w = g.in_w;
  t.out_c = g.in_c;
  return t;
}

// W'[a][b][co][ci] = W[KH-1-a][KW-1-b][ci][co]: the kernel of the transposed convolution.
inline Tensor<Cpu> rotated_transposed_weights(const Tensor<Cpu>& w, const ConvGeometry& g) {
  Tensor<Cpu> t(Shape{g.k_h, g.k_w, g.out_c, g.in_c});
  const float* src = w.data();
  float* dst = t.data();
  // One output row (tap, co) per work item, in parallel: a 3x3 kernel at 512 channels is 9 MB, and
  // one thread transposing it left the other waiting (perf, SE-ResNet-50 training step).
  parallel_for(0, g.k_h * g.k_w * g.out_c, [&](int64_t row) {
    const int64_t tap = row / g.out_c, co = row % g.out_c;
    const int64_t a = tap / g.k_w, b = tap % g.k_w;
    const float* s = src + ((g.k_h - 1 - a) * g.k_w + (g.k_w - 1 - b)) * g.in_c * g.out_c + co;
    float* d = dst + (tap * g.out_c + co) * g.in_c;
    for (int64_t ci = 0; ci < g.in_c; ++ci) d[ci] = s[ci * g.out_c];
  });
  return t;
}

}  // namespace detail

inline Tensor<Cpu> conv2d_forward(const Tensor<Cpu>& x, const Tensor<Cpu>& w, const Tensor<Cpu>* bias,
                                  const ConvGeometry& g) {
  detail::check_conv_shapes(g, x.shape(), false, w, "cpu::conv2d_forward");
  if (bias)
    SKN_REQUIRE(bias->shape() == Shape{g.out_c}, ShapeError, "cpu::conv2d_forward: bias has shape ",
                bias->shape().str(), ", expected [", g.out_c, "]");
  Tensor<Cpu> y(g.out_shape());
  const int64_t rows = g.out_pixels(), cout = g.out_c, patch = g.patch();
  if (conv_uses_indirect(g)) {
    conv2d_forward_indirect(x.data(), w.data(), g, y.data());
  } else if (g.is_pointwise()) {
    gemm(Trans::No, Trans::No, rows, cout, g.in_c, 1.f, x.data(), g.in_c, w.data(), cout, 0.f, y.data(), cout);
  } else {
    const int64_t tile = detail::conv_tile_rows(g);
    Tensor<Cpu> col(Shape{tile * patch});
    for (int64_t r0 = 0; r0 < rows; r0 += tile) {
      const int64_t nr = std::min(tile, rows - r0);
      im2col(x.data(), g, r0, nr, col.data());
      gemm(Trans::No, Trans::No, nr, cout, patch, 1.f, col.data(), patch, w.data(), cout, 0.f,
           y.data() + r0 * cout, cout);
    }
  }
  if (bias) detail::add_row_bias(y.data(), rows, cout, bias->data());
  return y;
}

inline Tensor<Cpu> conv2d_backward_input(const Tensor<Cpu>& dy, const Tensor<Cpu>& w, const ConvGeometry& g) {
  detail::check_conv_shapes(g, dy.shape(), true, w, "cpu::conv2d_backward_input");
  const int64_t rows = g.out_pixels(), cout = g.out_c, patch = g.patch();
  if (g.is_pointwise()) {
    Tensor<Cpu> dx(g.in_shape());
    // dX[rows x cin] = dY[rows x cout] * W^T, with W stored [cin x cout].
    gemm(Trans::No, Trans::Yes, rows, g.in_c, cout, 1.f, dy.data(), cout, w.data(), cout, 0.f, dx.data(),
         g.in_c);
    return dx;
  }
  if (detail::input_grad_is_conv(g))
    return conv2d_forward(dy, detail::rotated_transposed_weights(w, g), nullptr, detail::transposed_geometry(g));
  auto dx = Tensor<Cpu>::zeros(g.in_shape());
  const int64_t tile = detail::conv_tile_rows(g);
  Tensor<Cpu> col(Shape{tile * patch});
  for (int64_t r0 = 0; r0 < rows; r0 += tile) {
    const int64_t nr = std::min(tile, rows - r0);
    gemm(Trans::No, Trans::Yes, nr, patch, cout, 1.f, dy.data() + r0 * cout, cout, w.data(), cout, 0.f,
         col.data(), patch);
    col2im_add(col.data(), g, r0, nr, dx.data());
  }
  return dx;
}

inline void conv2d_backward_params(const Tensor<Cpu>& x, const Tensor<Cpu>& dy, const ConvGeometry& g,
                                   Tensor<Cpu>& dw, Tensor<Cpu>* dbias) {
  detail::check_conv_shapes(g, x.shape(), false, dw, "cpu::conv2d_backward_params");
  SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, "cpu::conv2d_backward_params: dy has shape ",
              dy.shape().str(), ", the geometry expects ", g.out_shape().str());
  if (dbias)
    SKN_REQUIRE(dbias->shape() == Shape{g.out_c}, ShapeError, "cpu::conv2d_backward_params: dbias has shape ",
                dbias->shape().str(), ", expected [", g.out_c, "]");
  const int64_t rows = g.out_pixels(), cout = g.out_c, patch = g.patch();
  // The gradient is computed whole into `grad` and then added to dw in one step, so that accumulating
  // into a zeroed dw twice gives exactly twice the gradient (bitwise), whatever the tiling.
  Tensor<Cpu> grad(dw.shape());
  if (g.is_pointwise() && !detail::pointwise_weight_grad_is_indirect(g)) {
    // dW[cin x cout] = X^T * dY: the sum over all N*H*W pixels is the GEMM's inner dimension.
    gemm(Trans::Yes, Trans::No, g.in_c, cout, rows, 1.f, x.data(), g.in_c, dy.data(), cout, 0.f, grad.data(),
         cout);
  } else if (conv_uses_indirect(g)) {
    conv2d_weight_grad_indirect(x.data(), dy.data(), g, grad.data());
  } else {
    const int64_t tile = detail::conv_tile_rows(g);
    Tensor<Cpu> col(Shape{tile * patch});
    for (int64_t r0 = 0; r0 < rows; r0 += tile) {
      const int64_t nr = std::min(tile, rows - r0);
      im2col(x.data(), g, r0, nr, col.data());
      gemm(Trans::Yes, Trans::No, patch, cout, nr, 1.f, col.data(), patch, dy.data() + r0 * cout, cout,
           r0 == 0 ? 0.f : 1.f, grad.data(), cout);
    }
  }
  detail::accumulate(dw.data(), grad.data(), grad.numel());
  if (dbias) detail::add_column_sums(dy.data(), rows, cout, dbias->data());
}

}  // namespace skinnet::cpu
